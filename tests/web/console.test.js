// The console in headless Chromium (Debian's chromium, driven by playwright-core): sign in, create
// an integration, see its deliveries die and then succeed after a replay, retry one, rotate the
// secret, send a test event, edit, disable and delete; with no script error, no CSP violation,
// and nothing kept in localStorage or cookies. A screenshot of each page lands in
// $SCREENSHOT_DIR (default: ./screenshots).
'use strict';

const assert = require('node:assert/strict');
const path = require('node:path');
const { test, before, after } = require('node:test');
const { chromium } = require('playwright-core');
const { startRelay, startReceiver, apiClient, waitFor, screenshotDir, HOSTILE_BODY } =
  require('./support');

const shots = screenshotDir();

let relay;
let receiver;
let browser;

before(async () => {
  receiver = await startReceiver();
  // Deliveries die after two quick attempts, and no breaker holds them.
  relay = await startRelay(['--retry-schedule', '100ms', '--breaker-failures', '0']);
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (relay) await relay.stop();
  if (receiver) await receiver.stop();
});

test('the console signs in, manages an integration and its deliveries', async () => {
  const context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  // Chromium reports each 4xx answer as a console error: the wrong secret (401) and the bad
  // URL (400) are answers this test asks for; anything else counts.
  page.on('console', (message) => {
    const text = message.text();
    if (message.type() === 'error' && !/status of (400|401) /.test(text)) {
      problems.push(`console error: ${text}`);
    }
  });
  const shot = (name) => page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });

  const response = await page.goto(`${relay.base}/console`);
  const csp = response.headers()['content-security-policy'];
  assert.match(csp, /default-src 'self'/);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
  await page.getByLabel('API key').waitFor();
  await shot('1-sign-in');

  // A wrong secret is refused where it was typed.
  await page.getByLabel('API key').fill(relay.key.key);
  await page.getByLabel('Secret').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByText('invalid API key or secret').waitFor();
  assert.equal(await page.getByLabel('Secret').inputValue(), '', 'the secret is cleared');

  await page.getByLabel('Secret').fill(relay.key.secret);
  await page.getByRole('button', { name: 'Sign in' }).click();
  // The key acts for two organizations: pick one.
  await page.getByLabel('Organization').selectOption('org_a');
  await shot('2-organization');
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.getByRole('heading', { name: 'Integrations' }).waitFor();

  // A bad URL: the API's error is shown next to the field.
  await page.getByRole('button', { name: 'New integration' }).click();
  await page.getByLabel('Endpoint URL').fill('ftp://example.com/x');
  await page.getByRole('button', { name: 'Create' }).click();
  const urlError = page.locator('[data-error-for="properties.url"]');
  await waitFor('the URL error', async () => (await urlError.textContent()).length > 0);
  await shot('3-new-integration-error');

  await page.getByLabel('Endpoint URL').fill(receiver.url);
  await page.getByLabel('Headers').fill('X-Tenant: acme');
  await page.getByLabel('Timeout (ms)').fill('4000');
  await page.getByRole('button', { name: 'Create' }).click();
  const created = await page.locator('code.secret').textContent();
  assert.match(created, /^whsec_/);
  await shot('4-created-secret');
  await page.getByRole('button', { name: 'Done' }).click();
  const link = page.getByRole('link', { name: receiver.url });
  await link.waitFor();
  await shot('5-integrations');

  // The endpoint is down: two consent changes' webhooks die.
  const api = await apiClient(relay, 'org_a');
  const integrations = (await api('GET', '/v1/marketplace/integrations')).json.data;
  assert.equal(integrations.length, 1);
  const integration = integrations[0];
  receiver.answer(503);
  const event = await api('POST', '/v1/consents/events',
    { user: { organization_user_id: 'browser-user' }, consents: { purposes: [{ id: 'analytics', enabled: true }] } });
  assert.equal(event.status, 201, event.text);

  await link.click();
  await page.getByRole('heading', { name: /Deliveries/ }).waitFor();
  const statuses = page.locator('tr.delivery .status');
  await waitFor('two dead deliveries', async () =>
    JSON.stringify(await statuses.allTextContents()) === JSON.stringify(['dead', 'dead']));
  await shot('6-deliveries-dead');

  // The endpoint recovers; replaying re-queues both and they succeed.
  receiver.answer(200);
  await page.getByRole('button', { name: 'Replay dead deliveries' }).click();
  await page.getByText('2 dead deliveries re-queued').waitFor();
  await waitFor('both delivered', async () =>
    JSON.stringify(await statuses.allTextContents()) === JSON.stringify(['succeeded', 'succeeded']));

  // A delivery's payload and attempts, with the endpoint's answers.
  await page.locator('tr.delivery').first().getByRole('button', { name: 'Show' }).click();
  const detail = page.locator('tr.detail:not([hidden])');
  await detail.locator('pre.payload').waitFor();
  const payload = JSON.parse(await detail.locator('pre.payload').textContent());
  assert.ok(['event.created', 'user.created'].includes(payload.type));
  const answers = await detail.locator('pre.response').allTextContents();
  // The endpoint's answers are shown as text: its markup is not run (nor blocked by the CSP,
  // which would report a violation).
  assert.deepEqual(answers, [HOSTILE_BODY, HOSTILE_BODY, 'ok']);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  const trace = await detail.locator('.trace').textContent();
  assert.match(trace, /^[0-9a-f]{32}$/);
  await shot('7-delivery-detail');

  // Filters: by status and by type.
  await page.getByLabel('Type').selectOption('user.created');
  await waitFor('the type filter', async () => (await page.locator('tr.delivery').count()) === 1);
  await page.getByLabel('Type').selectOption('');
  await page.getByLabel('Status').selectOption('dead');
  await page.getByText('No delivery matches.').waitFor();
  await page.getByLabel('Status').selectOption('');

  // Retry one delivery.
  const before = receiver.received.length;
  await page.locator('tr.delivery').first().getByRole('button', { name: 'Retry' }).click();
  await page.getByText(/Delivery dlv_\w+ re-queued/).waitFor();
  await waitFor('the retried webhook', () => receiver.received.length > before);

  // Rotating shows the new secret once; the API agrees.
  await page.getByRole('button', { name: 'Rotate signing secret' }).click();
  const rotated = await page.locator('#secret-box code.secret').textContent();
  assert.match(rotated, /^whsec_/);
  assert.notEqual(rotated, created);
  const stored = await api('GET', `/v1/marketplace/integrations/${integration.id}/secret`);
  assert.equal(stored.json.signing_secret, rotated);

  // A test event's webhook arrives and shows in the list a moment later.
  await page.getByRole('button', { name: 'Send test event' }).click();
  await page.getByText(/Test event test_\w+ queued/).waitFor();
  const testHook = await waitFor('the test webhook', () =>
    receiver.received.find((r) => JSON.parse(r.body).parameters.entity.test === true));
  assert.equal(testHook.headers['x-tenant'], 'acme');
  await waitFor('the test delivery listed', async () => (await page.locator('tr.delivery').count()) === 3);
  await shot('8-deliveries');

  // Back to the list: edit, disable, enable, then an OAuth integration whose secret shows masked.
  await page.getByRole('link', { name: '← Integrations' }).click();
  await page.getByRole('button', { name: 'Edit' }).click();
  assert.equal(await page.getByLabel('Timeout (ms)').inputValue(), '4000');
  await page.getByLabel('Timeout (ms)').fill('6000');
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText(`Saved ${receiver.url}`).waitFor();
  assert.equal((await api('GET', `/v1/marketplace/integrations/${integration.id}`)).json.properties.timeout_ms, 6000);
  await page.getByRole('button', { name: 'Disable' }).click();
  await page.getByText(`Disabled ${receiver.url}`).waitFor();
  assert.equal((await api('GET', `/v1/marketplace/integrations/${integration.id}`)).json.enabled, false);
  await page.getByRole('button', { name: 'Enable' }).click();
  await page.getByText(`Enabled ${receiver.url}`).waitFor();

  await page.getByRole('button', { name: 'New integration' }).click();
  await page.getByLabel('Endpoint URL').fill(receiver.url.replace('/hook', '/oauth-hook'));
  await page.getByLabel('Token URL').fill(receiver.url.replace('/hook', '/token'));
  await page.getByLabel('Client ID').fill('client-1');
  await page.getByLabel('Client secret').fill('s3cret-value');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('button', { name: 'Done' }).click();
  const oauthRow = page.locator('tr', { hasText: '/oauth-hook' });
  await oauthRow.getByRole('button', { name: 'Edit' }).click();
  const secretInput = page.getByLabel('Client secret');
  assert.equal(await secretInput.getAttribute('type'), 'password');
  assert.equal(await secretInput.inputValue(), '********', 'the API shows the secret masked');
  assert.equal(await page.content().then((html) => html.includes('s3cret-value')), false);
  await shot('9-edit-oauth');
  await page.getByRole('button', { name: 'Cancel' }).click();

  // Deleting asks first; cancelling keeps it.
  await oauthRow.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  assert.equal((await api('GET', '/v1/marketplace/integrations')).json.total, 2);
  await oauthRow.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('dialog').getByRole('button', { name: 'Delete' }).click();
  await page.getByText(/^Deleted /).waitFor();
  assert.equal((await api('GET', '/v1/marketplace/integrations')).json.total, 1);

  // Nothing of the session is kept where it would outlive the page.
  const kept = await page.evaluate(() => ({
    local: localStorage.length, session: JSON.stringify(sessionStorage), cookie: document.cookie,
  }));
  assert.deepEqual(kept, { local: 0, session: '{}', cookie: '' });
  assert.deepEqual(await context.cookies(), []);

  // Signing out forgets the token.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByLabel('API key').waitFor();
  assert.deepEqual(problems, [], 'no script error and no CSP violation');
  await context.close();
});
