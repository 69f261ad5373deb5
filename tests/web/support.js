// What the web tests share: the real consent-relay binary in a scratch directory, a receiver on
// loopback, and HTTP helpers. RELAY_BINARY names the binary (set by CTest).
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const binary = process.env.RELAY_BINARY;
if (!binary) throw new Error('RELAY_BINARY must name the consent-relay binary');

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

// Waits until `check()` is truthy (it may be async); throws after `ms` naming `what`.
async function waitFor(what, check, ms = 20000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await check();
      if (last) return last;
    } catch (error) {
      last = error;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

// The relay on a free port with its own data directory; stop() ends it and removes the directory.
async function startRelay(extraArgs = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'relay-web-'));
  const dataDir = path.join(dir, 'data');
  const cli = (...args) => execFileSync(binary, [...args, '--data-dir', dataDir], { encoding: 'utf8' });
  const key = JSON.parse(cli('keys', 'create', '--organization', 'org_a', '--organization', 'org_b'));
  cli('orgs', 'enable', 'org_a', '--feature', 'webhooks');
  const port = await freePort();
  const child = spawn(binary, ['serve', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir,
    '--allow-destination', '127.0.0.0/8', ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => { output += d; });
  child.stderr.on('data', (d) => { output += d; });
  const base = `http://127.0.0.1:${port}`;
  await waitFor('the relay to listen', async () => (await fetch(`${base}/healthz`)).ok, 15000);
  return {
    base, key, dataDir, child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.once('exit', r));
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

// What a failing receiver answers: markup that would run script if the console rendered a
// response body as HTML instead of text.
const HOSTILE_BODY = '<img src=x onerror="window.__pwned=1">down';

// A webhook receiver on loopback: answers `status` (200 "ok", else HOSTILE_BODY) and records
// every request.
async function startReceiver() {
  const received = [];
  let status = 200;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      received.push({ method: req.method, url: req.url, headers: req.headers, body });
      res.writeHead(status, { 'Content-Type': 'text/plain' });
      res.end(status === 200 ? 'ok' : HOSTILE_BODY);
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    received,
    answer(code) { status = code; },
    stop: () => new Promise((r) => server.close(r)),
  };
}

// The API as a client: a session for the key, then JSON calls scoped to an organization.
async function apiClient(relay, organization) {
  const session = await (await fetch(`${relay.base}/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'api-key', key: relay.key.key, secret: relay.key.secret }),
  })).json();
  return async (method, route, body, headers = {}) => {
    const url = new URL(route, relay.base);
    if (organization) url.searchParams.set('organization_id', organization);
    const response = await fetch(url, {
      method,
      headers: { Authorization: `Bearer ${session.access_token}`,
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
    });
    const text = await response.text();
    let json = null;
    try { json = JSON.parse(text); } catch (e) { json = null; }
    return { status: response.status, headers: response.headers, json, text };
  };
}

// Where the browser tests leave their screenshots: $SCREENSHOT_DIR, else ./screenshots.
function screenshotDir() {
  const dir = process.env.SCREENSHOT_DIR || path.join(__dirname, 'screenshots');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

module.exports = { startRelay, startReceiver, apiClient, waitFor, freePort, screenshotDir, HOSTILE_BODY };
