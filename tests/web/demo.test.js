// `consent-relay demo`: one command gives a server with the console, a key that signs in, an
// integration whose receiver verifies and prints each webhook of a stream of consent changes;
// Ctrl-C (SIGINT) ends it all and removes its data directory.
'use strict';

const assert = require('node:assert/strict');
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const { test } = require('node:test');
const { freePort, waitFor } = require('./support');

test('the demo runs end to end and cleans up on Ctrl-C', async () => {
  const port = await freePort();
  const child = spawn(process.env.RELAY_BINARY,
    ['demo', '--listen', `127.0.0.1:${port}`, '--interval-ms', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  try {
    await waitFor('the banner', () => out.includes('Press Ctrl-C to stop.'));
    const field = (name) => (out.match(new RegExp(`${name}:\\s+(\\S+)`)) || [])[1];
    const base = `http://127.0.0.1:${port}`;
    assert.equal(field('console'), `${base}/console`);
    const dataDir = field('data');
    assert.ok(fs.existsSync(dataDir), `${dataDir} exists while the demo runs`);

    // The receiver prints webhooks whose signatures it verified, for more than one user.
    await waitFor('verified webhooks of three changes', () =>
      (out.match(/^webhook .* signature ok /gm) || []).length >= 4 &&
      (out.match(/^change .*HTTP 201$/gm) || []).length >= 3);
    assert.doesNotMatch(out, /signature INVALID/);

    // The printed key signs in; the organization has the integration, its deliveries succeed.
    const session = await fetch(`${base}/v1/sessions`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ type: 'api-key', key: field('API key'), secret: field('secret') }),
    });
    assert.equal(session.status, 201);
    const { access_token: token, organizations } = await session.json();
    assert.deepEqual(organizations, [field('organization')]);
    const auth = { Authorization: `Bearer ${token}` };
    const list = await (await fetch(`${base}/v1/marketplace/integrations?organization_id=demo`, { headers: auth })).json();
    assert.equal(list.total, 1);
    const succeeded = await (await fetch(
      `${base}/v1/marketplace/integrations/${list.data[0].id}/deliveries?organization_id=demo&status=succeeded`,
      { headers: auth })).json();
    assert.ok(succeeded.data.length >= 4, `${succeeded.data.length} deliveries succeeded`);
    assert.equal((await fetch(`${base}/console`)).status, 200);

    child.kill('SIGINT');
    const { code } = await Promise.race([exited,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the demo did not stop')), 20000))]);
    assert.equal(code, 0, out);
    assert.match(out, /demo stopped/);
    assert.equal(fs.existsSync(dataDir), false, 'the data directory is removed');
    await assert.rejects(fetch(`${base}/healthz`), 'the server is gone');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
