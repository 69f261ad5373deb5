// The OpenAPI document: valid by a public validator (@apidevtools/swagger-parser), served as built,
// and true to the server: the main routes' answers (successes and errors) are checked against
// the document's schemas with Ajv (JSON Schema 2020-12, the dialect of OpenAPI 3.1).
'use strict';

const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { test, before, after } = require('node:test');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020').default;
const addFormats = require('ajv-formats').default;
const { startRelay, startReceiver, apiClient, waitFor } = require('./support');

const source = path.join(__dirname, '..', '..', 'src', 'api', 'assets', 'openapi.json');
const doc = JSON.parse(fs.readFileSync(source, 'utf8'));

let relay;
let receiver;

before(async () => {
  receiver = await startReceiver();
  relay = await startRelay();
});

after(async () => {
  if (relay) await relay.stop();
  if (receiver) await receiver.stop();
});

test('the document is valid OpenAPI 3.1 and is what the server serves', async () => {
  const api = await SwaggerParser.validate(structuredClone(doc));
  assert.equal(api.openapi, '3.1.0');
  const served = await fetch(`${relay.base}/openapi.json`);
  assert.equal(served.status, 200);
  assert.match(served.headers.get('content-type'), /^application\/json/);
  assert.deepEqual(await served.json(), doc);
});

test('a broken document is refused by the validator', async () => {
  const misplaced = structuredClone(doc);
  misplaced.paths['/v1/sessions'].post.parameters = [{ name: 'x', in: 'nowhere', schema: {} }];
  await assert.rejects(SwaggerParser.validate(misplaced));
  const dangling = structuredClone(doc);
  dangling.components.schemas.Session = { $ref: '#/components/schemas/Nothing' };
  await assert.rejects(SwaggerParser.validate(dangling));
});

// Validates one answer against the document's schema for (method, pattern, status).
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema({ ...doc, $id: 'openapi' });
const checked = new Set();
function conforms(method, pattern, answer) {
  const operation = doc.paths[pattern] && doc.paths[pattern][method];
  assert.ok(operation, `${method} ${pattern} is documented`);
  const code = String(answer.status);
  const key = operation.responses[code] ? code : 'default';
  assert.ok(answer.status < 300 ? operation.responses[code] : true,
    `${method} ${pattern} documents its ${code} answer`);
  const escape = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');
  const pointer = `openapi#/paths/${escape(pattern)}/${method}/responses/${key}/content/` +
    `${escape('application/json')}/schema`;
  const validate = ajv.getSchema(pointer);
  assert.ok(validate, `a schema at ${pointer}`);
  assert.ok(validate(answer.json),
    `${method} ${pattern} ${code}: ${ajv.errorsText(validate.errors)}\n${answer.text}`);
  checked.add(`${method} ${pattern} ${code}`);
}

test('the main routes answer as the document says', async () => {
  const api = await apiClient(relay, 'org_a');
  const base = '/v1/marketplace/integrations';

  const session = await fetch(`${relay.base}/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'api-key', key: relay.key.key, secret: relay.key.secret }),
  });
  conforms('post', '/v1/sessions', { status: session.status, json: await session.json() });
  const refused = await fetch(`${relay.base}/v1/sessions`, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ type: 'api-key', key: relay.key.key, secret: 'wrong' }),
  });
  assert.equal(refused.status, 401);
  conforms('post', '/v1/sessions', { status: 401, json: await refused.json() });

  const health = await fetch(`${relay.base}/healthz`);
  conforms('get', '/healthz', { status: health.status, json: await health.json() });

  // Integrations: create (with OAuth, answered masked), list, get, patch, secret, rotate.
  const created = await api('POST', base, {
    type_id: 'webhook-http',
    authentication: { url: receiver.url.replace('/hook', '/token'), client_id: 'c', client_secret: 's' },
    properties: { url: receiver.url, events: ['event.created'], headers: { 'X-A': 'b' } },
  });
  assert.equal(created.status, 201, created.text);
  conforms('post', base, created);
  assert.equal(created.json.authentication.client_secret, '********');
  const bad = await api('POST', base, { type_id: 'webhook-http', properties: { url: 'ftp://x' } });
  assert.equal(bad.status, 400);
  conforms('post', base, bad);
  const plain = await api('POST', base, { type_id: 'webhook-http', properties: { url: receiver.url } });
  conforms('post', base, plain);
  const id = plain.json.id;
  conforms('get', base, await api('GET', base));
  conforms('get', `${base}/{id}`, await api('GET', `${base}/${id}`));
  conforms('get', `${base}/{id}`, await api('GET', `${base}/int_missing`));
  conforms('patch', `${base}/{id}`, await api('PATCH', `${base}/${id}`, { properties: { timeout_ms: 3000 } }));
  conforms('get', `${base}/{id}/secret`, await api('GET', `${base}/${id}/secret`));
  conforms('post', `${base}/{id}/secret/rotate`, await api('POST', `${base}/${id}/secret/rotate`));

  // Consent events and users; the webhooks they cause; deliveries.
  const event = await api('POST', '/v1/consents/events',
    { user: { organization_user_id: 'contract-user' }, consents: { purposes: [{ id: 'p', enabled: true }] } },
    { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
  assert.equal(event.status, 201, event.text);
  conforms('post', '/v1/consents/events', event);
  const batch = await api('POST', '/v1/consents/events', [
    { user: { organization_user_id: 'batch-user' }, consents: { purposes: [{ id: 'p', enabled: false }] } }]);
  conforms('post', '/v1/consents/events', batch);
  conforms('post', '/v1/consents/events', await api('POST', '/v1/consents/events', { user: {} }));
  conforms('get', '/v1/consents/events', await api('GET', '/v1/consents/events'));
  conforms('get', '/v1/consents/events/{id}', await api('GET', `/v1/consents/events/${event.json.id}`));
  conforms('patch', '/v1/consents/events/{id}',
    await api('PATCH', `/v1/consents/events/${event.json.id}`, { metadata: { source: 'contract' } }));
  const userId = event.json.user.id;
  conforms('get', '/v1/consents/users', await api('GET', '/v1/consents/users'));
  conforms('get', '/v1/consents/users/{id}', await api('GET', `/v1/consents/users/${userId}`));
  conforms('patch', '/v1/consents/users/{id}',
    await api('PATCH', `/v1/consents/users/${userId}`, { metadata: { tier: 'gold' } }));
  conforms('post', `${base}/{id}/test`, await api('POST', `${base}/${id}/test`));

  const deliveries = await waitFor('the deliveries sent', async () => {
    const page = await api('GET', `${base}/${id}/deliveries?status=succeeded`);
    return page.json.data.length >= 4 ? page : null;
  });
  conforms('get', `${base}/{id}/deliveries`, deliveries);  // a keyset page
  conforms('get', `${base}/{id}/deliveries`,  // an offset page
    await api('GET', `${base}/${id}/deliveries?status=succeeded&$skip=0`));
  const traced = deliveries.json.data.filter((d) => d.trace_id === '0af7651916cd43dd8448eb211c80319c');
  assert.ok(traced.length >= 2, 'the event and user webhooks continue the request\'s trace');
  const one = deliveries.json.data[0].id;
  conforms('get', `${base}/{id}/deliveries/{delivery_id}`, await api('GET', `${base}/${id}/deliveries/${one}`));
  conforms('post', `${base}/{id}/deliveries/{delivery_id}/retry`,
    await api('POST', `${base}/${id}/deliveries/${one}/retry`));
  conforms('post', `${base}/{id}/replay`, await api('POST', `${base}/${id}/replay`, { status: 'dead' }));
  conforms('get', `${base}/{id}/deliveries`, await api('GET', `${base}/${id}/deliveries?status=lost`));

  conforms('delete', '/v1/consents/events/{id}', await api('DELETE', `/v1/consents/events/${event.json.id}`));
  conforms('delete', '/v1/consents/users/{id}', await api('DELETE', `/v1/consents/users/${userId}`));
  conforms('delete', `${base}/{id}`, await api('DELETE', `${base}/${created.json.id}`));
  assert.ok(checked.size >= 25, `checked ${checked.size} answers`);
});
