// API tokens (admins only): who can call the API with which role; create one
// (its secret is shown this once) and revoke one.

import { del, get, items, post } from '../api.js';
import { field, h, loading, mount, select, time } from '../dom.js';
import { act, errorBox } from '../messages.js';

const ROLES = ['viewer', 'agent', 'admin'];

export async function renderTokens(root, ctx) {
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'API tokens')));
  if (!ctx.can('admin')) {
    root.append(h('p', { class: 'empty' }, 'Only admins manage tokens.'));
    return;
  }
  const list = h('div', null, loading('Loading tokens'));
  root.append(list, createForm(ctx));
  try {
    const tokens = items(await get('/tokens'));
    mount(list, tokens.length ? table(tokens, ctx) : h('p', { class: 'empty' }, 'No token yet.'));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot list the tokens'));
    if (e.status === 401) throw e;
  }
}

function table(tokens, ctx) {
  const rows = tokens.map((t) => {
    const revoke = h('button', { type: 'button', class: 'small danger' }, 'Revoke');
    revoke.addEventListener('click', async () => {
      if (!window.confirm(`Revoke the token ${t.name}? Calls with it fail from now on.`)) return;
      const done = await act(revoke, () => del(`/tokens/${encodeURIComponent(t.name)}`), `${t.name} revoked.`);
      if (done !== undefined) ctx.refresh();
    });
    return h('tr', { 'data-token': t.name },
      h('th', { scope: 'row' }, t.name),
      h('td', null, t.role),
      h('td', null, t.created_by),
      h('td', null, time(t.created_at)),
      h('td', null, t.last_used_at ? time(t.last_used_at) : h('span', { class: 'muted' }, 'never')),
      h('td', { class: 'row-actions' }, t.name === ctx.me.name ? h('span', { class: 'muted' }, 'this session') : revoke));
  });
  const headers = ['Name', 'Role', 'Created by', 'Created', 'Last used', 'Actions'];
  return h('div', { class: 'table-wrap card' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'API tokens'),
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows)));
}

function createForm(ctx) {
  const name = h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', autocomplete: 'off', placeholder: 'zapier' });
  const role = select('role', ROLES, 'viewer');
  const shown = h('div', { 'aria-live': 'polite' });
  const submit = h('button', { type: 'submit' }, 'Create token');
  const form = h('form', { class: 'card' },
    h('h2', null, 'Create a token'),
    field('Token name', name, 'Letters, digits, -, _ or .; it names the caller in the audit log.'),
    field('Role', role),
    submit, shown);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const created = await act(submit, () => post('/tokens', { name: name.value.trim(), role: role.value }));
    if (!created) return;
    // The secret exists only in this answer: show it until the admin moves on.
    const secret = h('input', { readonly: true, value: created.token, 'aria-label': 'The new token' });
    mount(shown, h('div', { class: 'alert alert-success', role: 'status' },
      h('p', null, `Token ${created.name} (${created.role}) created. Copy it now: it is not shown again.`),
      secret,
      h('button', { type: 'button', class: 'small', onClick: () => ctx.refresh() }, 'Done')));
    secret.select();
  });
  return form;
}
