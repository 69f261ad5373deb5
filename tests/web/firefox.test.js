// The console in Firefox too: Debian's firefox-esr driven over WebDriver BiDi by the pinned npm
// puppeteer-core (Playwright drives only its own patched Firefox). Sign in, pick the
// organization, create an integration, open its deliveries, send a test event and see it
// delivered; no script error and no CSP violation. The full walk is console.test.js, in Chromium.
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { test, before, after } = require('node:test');
const puppeteer = require('puppeteer-core');
const { startRelay, startReceiver, waitFor, screenshotDir } = require('./support');

const shots = screenshotDir();

let relay;
let receiver;
let browser;
let home;

before(async () => {
  receiver = await startReceiver();
  relay = await startRelay();
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-firefox-'));
  browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: process.env.FIREFOX || '/usr/bin/firefox-esr',
    headless: true,
    env: { ...process.env, HOME: home },
    // No update checks, telemetry or other calls out of this closed machine.
    extraPrefsFirefox: { 'app.update.enabled': false, 'network.captive-portal-service.enabled': false,
      'datareporting.policy.dataSubmissionEnabled': false, 'browser.safebrowsing.malware.enabled': false,
      'browser.safebrowsing.phishing.enabled': false },
  });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.stop();
  if (receiver) await receiver.stop();
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

// Clicks the button (or link) whose text is exactly `text`, inside `scope` when given.
async function click(page, text, scope = 'body') {
  await waitFor(`the "${text}" button`, () => page.evaluate((t, s) => {
    const el = [...document.querySelector(s).querySelectorAll('button, a')]
      .find((b) => b.textContent.trim() === t && !b.closest('[hidden]'));
    if (!el) return false;
    el.click();
    return true;
  }, text, scope));
}

const textOf = (page) => page.evaluate(() => document.body.innerText);

test('the console works in Firefox', async () => {
  const page = await browser.newPage();
  await page.setViewport({ width: 1000, height: 700 });
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' || /Content[- ]Security[- ]Policy/i.test(text)) {
      problems.push(`console ${message.type()}: ${text}`);
    }
  });

  await page.goto(`${relay.base}/console`);
  await page.waitForSelector('input[name=key]');
  await page.type('input[name=key]', relay.key.key);
  await page.type('input[name=secret]', relay.key.secret);
  await click(page, 'Sign in');
  await page.waitForSelector('select[name=organization]');
  await page.select('select[name=organization]', 'org_a');
  await click(page, 'Continue');
  await waitFor('the Integrations heading', async () => (await textOf(page)).includes('Integrations'));

  await click(page, 'New integration');
  await page.waitForSelector('[data-field="properties.url"]');
  await page.type('[data-field="properties.url"]', receiver.url);
  await click(page, 'Create');
  await page.waitForSelector('code.secret');
  assert.match(await page.$eval('code.secret', (e) => e.textContent), /^whsec_/);
  await click(page, 'Done');
  await click(page, receiver.url);
  await waitFor('the Deliveries page', async () => (await textOf(page)).includes('Send test event'));

  await click(page, 'Send test event');
  await waitFor('the test event delivered and listed', async () =>
    receiver.received.length === 1 &&
    (await page.$$eval('tr.delivery .status', (s) => s.map((e) => e.textContent))).join() === 'succeeded');
  assert.equal(JSON.parse(receiver.received[0].body).parameters.entity.test, true);
  await page.screenshot({ path: path.join(shots, 'firefox-deliveries.png') });

  const kept = await page.evaluate(() => ({ local: localStorage.length, session: sessionStorage.length,
    cookie: document.cookie }));
  assert.deepEqual(kept, { local: 0, session: 0, cookie: '' });
  assert.deepEqual(problems, [], 'no script error and no CSP violation');
  await page.close();
});
