// The Consent Relay console: sign in, integrations, deliveries. Plain JavaScript served by the
// relay itself (no build step, no CDN). Everything shown from the API is set as text, never as
// HTML. The session token lives in this script's memory only: the secret is never stored, and
// nothing goes to localStorage or a cookie (a reload signs out).
'use strict';

(() => {
  const EVENT_TYPES = ['event.created', 'event.updated', 'event.deleted',
    'user.created', 'user.updated', 'user.deleted'];
  const STATUSES = ['pending', 'in_flight', 'succeeded', 'dead', 'cancelled'];

  const session = { token: null, organization: null, organizations: [] };
  let poller = null;

  // --- DOM helpers --------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name.startsWith('on')) el.addEventListener(name.slice(2), value);
      else if (name === 'text') el.textContent = value;
      else if (value === true) el.setAttribute(name, '');
      else el.setAttribute(name, String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  function field(label, input, name) {
    const id = input.id || ('f-' + Math.random().toString(36).slice(2));
    input.id = id;
    if (name) input.dataset.field = name;
    return h('div', { class: 'field' },
      h('label', { for: id, text: label }), input,
      h('span', { class: 'error', 'data-error-for': name || id, role: 'alert' }));
  }

  function app() { return document.getElementById('app'); }

  function show(...children) {
    if (poller) { clearInterval(poller); poller = null; }
    app().replaceChildren(...children);
  }

  function when(iso) { return iso ? new Date(iso).toLocaleString() : '—'; }

  // --- the API --------------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, body) {
      super((body && body.message) || ('HTTP ' + status));
      this.status = status;
      this.errors = (body && body.errors) || {};
    }
  }

  async function api(method, path, body) {
    const url = new URL(path, location.origin);
    if (session.organization && !path.startsWith('/v1/sessions')) {
      url.searchParams.set('organization_id', session.organization);
    }
    const headers = {};
    if (session.token) headers.Authorization = 'Bearer ' + session.token;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const response = await fetch(url, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
    const text = await response.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
    if (response.status === 401 && session.token) {
      signOut('Your session ended: sign in again.');
      throw new ApiError(401, parsed);
    }
    if (!response.ok) throw new ApiError(response.status, parsed);
    return parsed;
  }

  // Puts each of the API's field errors next to its input (data-field), the rest on top.
  function showErrors(form, error) {
    for (const span of form.querySelectorAll('.error')) span.textContent = '';
    const general = form.querySelector('.form-error');
    general.textContent = '';
    let placed = false;
    for (const [name, reason] of Object.entries(error.errors || {})) {
      let span = form.querySelector(`[data-error-for="${CSS.escape(name)}"]`);
      // "properties.headers.X-Name" belongs to the headers field.
      for (let prefix = name; !span && prefix.includes('.'); ) {
        prefix = prefix.slice(0, prefix.lastIndexOf('.'));
        span = form.querySelector(`[data-error-for="${CSS.escape(prefix)}"]`);
      }
      if (span) { span.textContent = reason; placed = true; }
    }
    if (!placed) general.textContent = error.message;
  }

  function flash(text, kind) {
    const box = document.getElementById('flash');
    if (!box) return;
    box.replaceChildren(h('p', { class: 'flash ' + (kind || 'ok'), role: 'status', text }));
  }

  // --- sign in --------------------------------------------------------------------------------
  function signOut(message) {
    session.token = null;
    session.organization = null;
    session.organizations = [];
    document.getElementById('whoami').hidden = true;
    document.getElementById('sign-out').hidden = true;
    signInPage(message);
  }

  function signInPage(message) {
    const key = h('input', { type: 'text', name: 'key', autocomplete: 'username', required: true });
    const secret = h('input', { type: 'password', name: 'secret', autocomplete: 'current-password',
      required: true });
    const form = h('form', { class: 'card narrow', novalidate: true },
      h('h1', { text: 'Sign in' }),
      message ? h('p', { class: 'notice', text: message }) : null,
      h('p', { class: 'form-error', role: 'alert' }),
      field('API key', key, 'key'),
      field('Secret', secret, 'secret'),
      h('button', { type: 'submit', text: 'Sign in' }));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const answer = await api('POST', '/v1/sessions',
          { type: 'api-key', key: key.value.trim(), secret: secret.value });
        secret.value = '';
        session.token = answer.access_token;
        session.organizations = answer.organizations || [];
        if (session.organizations.length === 1) {
          chooseOrganization(session.organizations[0]);
        } else {
          organizationPage();
        }
      } catch (error) {
        secret.value = '';
        showErrors(form, error);
      }
    });
    show(form);
    key.focus();
  }

  function organizationPage() {
    const select = h('select', { name: 'organization' },
      session.organizations.map((o) => h('option', { value: o, text: o })));
    const form = h('form', { class: 'card narrow' },
      h('h1', { text: 'Organization' }),
      h('p', { text: 'This key acts for several organizations: pick one.' }),
      h('p', { class: 'form-error', role: 'alert' }),
      field('Organization', select, 'organization'),
      h('button', { type: 'submit', text: 'Continue' }));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      chooseOrganization(select.value);
    });
    show(form);
  }

  function chooseOrganization(organization) {
    session.organization = organization;
    const who = document.getElementById('whoami');
    who.textContent = 'Organization ' + organization;
    who.hidden = false;
    document.getElementById('sign-out').hidden = false;
    integrationsPage();
  }

  // --- integrations ---------------------------------------------------------------------------
  function healthText(integration) {
    const health = integration.health || {};
    if (!integration.enabled && health.disabled_reason) return 'disabled: ' + health.disabled_reason;
    let text = health.state || 'unknown';
    if (health.consecutive_failures) text += ` (${health.consecutive_failures} failures)`;
    return text;
  }

  async function integrationsPage(message) {
    const list = h('tbody');
    const page = h('section', {},
      h('div', { class: 'title' },
        h('h1', { text: 'Integrations' }),
        h('button', { type: 'button', text: 'New integration', onclick: () => integrationForm() })),
      h('div', { id: 'flash' }),
      h('table', { class: 'list', 'aria-label': 'Integrations' },
        h('thead', {}, h('tr', {},
          ['URL', 'Enabled', 'Health', 'Events', 'Regulations', ''].map((t) => h('th', { text: t })))),
        list));
    show(page);
    if (message) flash(message);
    try {
      const answer = await api('GET', '/v1/marketplace/integrations?$limit=100');
      if (!answer.data.length) {
        list.append(h('tr', {}, h('td', { colspan: 6, class: 'empty',
          text: 'No integration yet: create one to receive consent changes.' })));
      }
      for (const integration of answer.data) list.append(integrationRow(integration));
    } catch (error) {
      flash(error.message, 'bad');
    }
  }

  function integrationRow(integration) {
    const p = integration.properties;
    const toggle = h('button', { type: 'button', class: 'small',
      text: integration.enabled ? 'Disable' : 'Enable',
      onclick: async () => {
        try {
          await api('PATCH', `/v1/marketplace/integrations/${integration.id}`,
            { enabled: !integration.enabled });
          integrationsPage(`${integration.enabled ? 'Disabled' : 'Enabled'} ${p.url}`);
        } catch (error) { flash(error.message, 'bad'); }
      } });
    const remove = h('button', { type: 'button', class: 'small danger', text: 'Delete',
      onclick: async () => {
        if (!(await confirmDialog(`Delete the integration to ${p.url}? Its waiting deliveries are cancelled.`))) return;
        try {
          await api('DELETE', `/v1/marketplace/integrations/${integration.id}`);
          integrationsPage(`Deleted ${p.url}`);
        } catch (error) { flash(error.message, 'bad'); }
      } });
    return h('tr', { 'data-id': integration.id },
      h('td', {}, h('a', { href: '#', class: 'url', text: p.url,
        onclick: (e) => { e.preventDefault(); deliveriesPage(integration); } })),
      h('td', { text: integration.enabled ? 'yes' : 'no' }),
      h('td', { text: healthText(integration) }),
      h('td', { text: p.events && p.events.length ? p.events.join(', ') : 'all' }),
      h('td', { text: (p.regulations || ['gdpr']).join(', ') }),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', text: 'Edit',
          onclick: () => integrationForm(integration) }),
        toggle, remove));
  }

  function confirmDialog(text) {
    const dialog = document.getElementById('confirm');
    document.getElementById('confirm-text').textContent = text;
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
      dialog.returnValue = '';
      dialog.showModal();
    });
  }

  function headersText(headers) {
    return Object.entries(headers || {}).map(([k, v]) => `${k}: ${v}`).join('\n');
  }

  function parseHeaders(text) {
    const out = {};
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      const colon = line.indexOf(':');
      if (colon < 0) throw new ApiError(400, { message: 'each header is "Name: value"',
        errors: { 'properties.headers': 'each line must be "Name: value"' } });
      out[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
    }
    return out;
  }

  // The form that creates (no `integration`) or edits one.
  function integrationForm(integration) {
    const editing = !!integration;
    const p = editing ? integration.properties : {};
    const a = editing ? integration.authentication || {} : {};
    const url = h('input', { type: 'url', value: p.url || '', placeholder: 'https://example.com/consents', required: true });
    const events = EVENT_TYPES.map((t) => h('input', { type: 'checkbox', value: t,
      checked: !!(p.events && p.events.includes(t)) }));
    const regulations = h('input', { type: 'text', value: (p.regulations || ['gdpr']).join(', ') });
    const flatten = h('input', { type: 'checkbox', checked: !!p.flatten });
    const headers = h('textarea', { rows: 3, placeholder: 'X-Name: value' });
    headers.value = headersText(p.headers);
    const timeout = h('input', { type: 'number', min: 100, step: 100, value: p.timeout_ms || '' ,
      placeholder: 'default' });
    const tokenUrl = h('input', { type: 'url', value: a.url || '' });
    const clientId = h('input', { type: 'text', value: a.client_id || '', autocomplete: 'off' });
    // The API shows the stored secret masked ("********"); sent back unchanged, it is kept.
    const clientSecret = h('input', { type: 'password', value: a.client_secret || '',
      autocomplete: 'new-password' });
    const scope = h('input', { type: 'text', value: a.scope || '' });
    const audience = h('input', { type: 'text', value: a.audience || '' });

    const form = h('form', { class: 'card', novalidate: true },
      h('h1', { text: editing ? 'Edit integration' : 'New integration' }),
      h('p', { class: 'form-error', role: 'alert' }),
      field('Endpoint URL', url, 'properties.url'),
      h('fieldset', { 'data-field': 'properties.events' },
        h('legend', { text: 'Events (none checked: all)' }),
        events.map((box) => h('label', { class: 'inline' }, box, ' ' + box.value)),
        h('span', { class: 'error', 'data-error-for': 'properties.events', role: 'alert' })),
      field('Regulations', regulations, 'properties.regulations'),
      h('div', { class: 'field' }, h('label', { class: 'inline' }, flatten, ' Flatten'),
        h('span', { class: 'error', 'data-error-for': 'properties.flatten', role: 'alert' })),
      field('Headers', headers, 'properties.headers'),
      field('Timeout (ms)', timeout, 'properties.timeout_ms'),
      h('fieldset', {},
        h('legend', { text: 'OAuth client credentials (optional)' }),
        field('Token URL', tokenUrl, 'authentication.url'),
        field('Client ID', clientId, 'authentication.client_id'),
        field('Client secret', clientSecret, 'authentication.client_secret'),
        field('Scope', scope, 'authentication.scope'),
        field('Audience', audience, 'authentication.audience')),
      h('div', { class: 'buttons' },
        h('button', { type: 'submit', text: editing ? 'Save' : 'Create' }),
        h('button', { type: 'button', class: 'link', text: 'Cancel',
          onclick: () => integrationsPage() })));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const properties = {
          url: url.value.trim(),
          events: events.filter((b) => b.checked).map((b) => b.value),
          regulations: regulations.value.split(',').map((r) => r.trim()).filter((r) => r),
          flatten: flatten.checked,
          headers: parseHeaders(headers.value),
          timeout_ms: timeout.value === '' ? null : Number(timeout.value),
        };
        if (!properties.events.length) properties.events = null;
        if (editing) {
          // A merge patch: headers no longer listed are removed with null.
          for (const name of Object.keys(p.headers || {})) {
            if (!(name in properties.headers)) properties.headers[name] = null;
          }
        }
        let authentication = {};
        if (tokenUrl.value || clientId.value || clientSecret.value) {
          authentication = { url: tokenUrl.value.trim(), client_id: clientId.value.trim(),
            client_secret: clientSecret.value };
          if (scope.value) authentication.scope = scope.value;
          if (audience.value) authentication.audience = audience.value;
        }
        if (editing) {
          const patch = { properties };
          // Replacing the whole object: merge patch would keep removed members.
          patch.authentication = Object.keys(authentication).length ? authentication : null;
          await api('PATCH', `/v1/marketplace/integrations/${integration.id}`, patch);
          integrationsPage(`Saved ${properties.url}`);
        } else {
          const created = await api('POST', '/v1/marketplace/integrations',
            { type_id: 'webhook-http', authentication, properties });
          secretPage(created, 'Integration created');
        }
      } catch (error) {
        showErrors(form, error);
      }
    });
    show(form);
    url.focus();
  }

  // A new signing secret, shown this once.
  function secretPage(integration, heading) {
    show(h('section', { class: 'card' },
      h('h1', { text: heading }),
      h('p', { text: `Webhooks to ${integration.properties.url} are signed (Standard Webhooks) with this secret. ` +
        'Copy it now: it is not shown again here.' }),
      h('p', {}, h('code', { class: 'secret', text: integration.signing_secret })),
      h('button', { type: 'button', text: 'Done', onclick: () => integrationsPage() })));
  }

  // --- an integration's deliveries --------------------------------------------------------------
  function deliveriesPage(integration) {
    const path = `/v1/marketplace/integrations/${integration.id}`;
    const status = h('select', { name: 'status' }, h('option', { value: '', text: 'any' }),
      STATUSES.map((s) => h('option', { value: s, text: s })));
    const type = h('select', { name: 'type' }, h('option', { value: '', text: 'any' }),
      EVENT_TYPES.map((t) => h('option', { value: t, text: t })));
    const rows = h('tbody');
    const open = new Set();
    const secretBox = h('div', { id: 'secret-box' });

    // Keyset pages of 50: the poll refreshes the newest; "Older deliveries" appends the next page
    // (its cursor), and the poll then leaves the pages shown alone until a filter or an action.
    let next = null;
    let older = false;
    const more = h('button', { type: 'button', text: 'Older deliveries', onclick: () => load(true) });
    more.hidden = true;
    async function load(append = false) {
      if (append === true ? !next : older) return;
      const query = new URLSearchParams({ $limit: '50' });
      if (status.value) query.set('status', status.value);
      if (type.value) query.set('type', type.value);
      if (append === true) query.set('$cursor', next);
      try {
        const answer = await api('GET', `${path}/deliveries?${query}`);
        if (append === true) {
          older = true;
        } else {
          rows.replaceChildren();
          if (!answer.data.length) {
            rows.append(h('tr', {}, h('td', { colspan: 6, class: 'empty', text: 'No delivery matches.' })));
          }
        }
        for (const d of answer.data) rows.append(...deliveryRows(d, open, reload, path));
        next = answer.cursor;
        more.hidden = !next;
      } catch (error) {
        if (error.status !== 401) flash(error.message, 'bad');
      }
    }
    // From the top again (a filter changed, or an action changed what is listed).
    function reload() {
      older = false;
      return load();
    }

    async function act(method, suffix, done) {
      try {
        const answer = await api(method, path + suffix);
        done(answer);
        reload();
      } catch (error) { flash(error.message, 'bad'); }
    }

    status.addEventListener('change', reload);
    type.addEventListener('change', reload);
    show(h('section', {},
      h('p', {}, h('a', { href: '#', text: '← Integrations',
        onclick: (e) => { e.preventDefault(); integrationsPage(); } })),
      h('div', { class: 'title' },
        h('h1', {}, 'Deliveries', h('small', { class: 'url', text: integration.properties.url }))),
      h('div', { class: 'buttons' },
        h('button', { type: 'button', text: 'Send test event',
          onclick: () => act('POST', '/test', (a) => flash(`Test event ${a.event_id} queued`)) }),
        h('button', { type: 'button', text: 'Replay dead deliveries',
          onclick: () => act('POST', '/replay', (a) => flash(`${a.requeued} dead deliveries re-queued`)) }),
        h('button', { type: 'button', text: 'Rotate signing secret',
          onclick: () => act('POST', '/secret/rotate', (a) => {
            flash('Signing secret rotated: the old one stays valid for 24 hours.');
            secretBox.replaceChildren(h('p', {}, 'New signing secret (shown once): ',
              h('code', { class: 'secret', text: a.signing_secret })));
          }) })),
      h('div', { id: 'flash' }),
      secretBox,
      h('div', { class: 'filters' }, field('Status', status, 'status'), field('Type', type, 'type')),
      h('table', { class: 'list', 'aria-label': 'Deliveries' },
        h('thead', {}, h('tr', {},
          ['Status', 'Type', 'Created', 'Attempts', 'Trace', ''].map((t) => h('th', { text: t })))),
        rows),
      more));
    load();
    poller = setInterval(load, 1500);
  }

  function deliveryRows(d, open, reload, path) {
    const detail = h('tr', { class: 'detail', hidden: !open.has(d.id) },
      h('td', { colspan: 6 }, deliveryDetail(d)));
    const row = h('tr', { 'data-id': d.id, class: 'delivery' },
      h('td', {}, h('span', { class: 'status ' + d.status, text: d.status })),
      h('td', { text: d.type }),
      h('td', { text: when(d.created_at) }),
      h('td', { text: String(d.attempts.length) }),
      h('td', { class: 'mono', text: d.trace_id || '—' }),
      h('td', { class: 'actions' },
        h('button', { type: 'button', class: 'small', text: open.has(d.id) ? 'Hide' : 'Show',
          onclick: (e) => {
            if (open.has(d.id)) open.delete(d.id); else open.add(d.id);
            detail.hidden = !open.has(d.id);
            e.target.textContent = open.has(d.id) ? 'Hide' : 'Show';
          } }),
        d.status === 'dead' || d.status === 'succeeded'
          ? h('button', { type: 'button', class: 'small', text: 'Retry',
            onclick: async () => {
              try {
                await api('POST', `${path}/deliveries/${d.id}/retry`);
                flash(`Delivery ${d.id} re-queued`);
                reload();
              } catch (error) { flash(error.message, 'bad'); }
            } })
          : null));
    return [row, detail];
  }

  function deliveryDetail(d) {
    return h('div', { class: 'delivery-detail' },
      h('p', {}, h('strong', { text: 'Delivery ' }), h('span', { class: 'mono', text: d.id }),
        ' · message ', h('span', { class: 'mono', text: d.message_id }),
        d.trace_id ? [' · trace ', h('span', { class: 'mono trace', text: d.trace_id })] : null,
        d.next_attempt_at ? ` · next attempt ${when(d.next_attempt_at)}` : null),
      h('h3', { text: 'Payload' }),
      d.erased ? h('p', { text: 'Erased with its user.' })
        : h('pre', { class: 'payload', text: JSON.stringify(d.payload, null, 2) }),
      h('h3', { text: 'Attempts' }),
      d.attempts.length
        ? h('ol', { class: 'attempts' }, d.attempts.map((a) => h('li', {},
          h('span', { text: `${when(a.started_at)} · ` }),
          h('span', { class: 'mono', text: a.http_status === null ? 'no response' : `HTTP ${a.http_status}` }),
          h('span', { text: ` · ${a.duration_ms} ms` }),
          a.error ? h('span', { class: 'bad', text: ` · ${a.error}` }) : null,
          a.response_body !== null && a.response_body !== undefined
            ? h('pre', { class: 'response', text: a.response_body || '(empty body)' }) : null)))
        : h('p', { text: 'Not tried yet.' }));
  }

  document.getElementById('sign-out').addEventListener('click', () => signOut());
  signInPage();
})();
