// Events admin: the subscriptions with their status (a disabled one says
// why), subscribe a URL (its secret shown once), rotate, enable or disable,
// remove; the delivery log with replay.

import { del, get, items, post } from '../api.js';
import { badge, field, h, loading, mount } from '../dom.js';
import { act, errorBox, notify } from '../messages.js';

const TYPES = [
  'post.received', 'post.analyzed', 'identity_link.proposed', 'identity_link.confirmed', 'identity_link.rejected',
  'alert.raised', 'response.sent', 'response.failed', 'plugin.installed', 'plugin.upgraded', 'plugin.approved',
  'subject.erased',
];
// A secret to show once the view is drawn again (after subscribing).
let shownOnce = null;

const STATUS_KIND = { active: 'positive', disabled: 'negative', delivered: 'positive', pending: 'warning', failed: 'negative' };

export async function renderEvents(root, ctx) {
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Events')));
  if (!ctx.can('admin')) {
    root.append(h('p', { class: 'empty' }, 'Event subscriptions are for admins.'));
    return;
  }
  const list = h('div', null, loading('Loading subscriptions'));
  const log = h('div', null, loading('Loading deliveries'));
  const secret = h('div', { 'aria-live': 'polite' });
  root.append(list, secret, subscribeForm(ctx), h('h2', null, 'Delivery log'), log);
  if (shownOnce) {
    showSecret(secret, shownOnce.text, shownOnce.what);
    shownOnce = null;
  }
  try {
    const subscriptions = items(await get('/events/subscriptions'));
    mount(list, subscriptions.length
      ? subscriptionTable(subscriptions, ctx, secret)
      : h('p', { class: 'empty' }, 'No subscription yet.'));
    const deliveries = items(await get('/events/deliveries', { limit: 50 }));
    mount(log, deliveries.length ? deliveryTable(deliveries, ctx) : h('p', { class: 'empty' }, 'Nothing delivered yet.'));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot list the subscriptions'));
    if (e.status === 401) throw e;
  }
}

function button(label, cls = 'small') {
  return h('button', { type: 'button', class: cls }, label);
}

function showSecret(box, text, what) {
  mount(box, h('div', { class: 'card secret-once', role: 'status' },
    h('p', null, `${what} Shown only now: copy it to the receiver.`),
    h('code', { class: 'secret' }, text)));
}

function subscriptionTable(subscriptions, ctx, secretBox) {
  const rows = subscriptions.map((s) => {
    const filters = [s.channel && `channel ${s.channel}`, s.intent && `intent ${s.intent}`,
      s.min_priority != null && `priority ≥ ${s.min_priority}`].filter(Boolean).join(', ');
    const toggle = button(s.status === 'active' ? 'Disable' : 'Enable');
    toggle.addEventListener('click', async () => {
      const verb = s.status === 'active' ? 'disable' : 'enable';
      const done = await act(toggle, () => post(`/events/subscriptions/${s.id}/${verb}`), `Subscription ${s.id}: ${verb}d.`);
      if (done !== undefined) ctx.refresh();
    });
    const rotate = button('Rotate secret');
    rotate.addEventListener('click', async () => {
      const rotated = await act(rotate, () => post(`/events/subscriptions/${s.id}/rotate-secret`), null);
      if (rotated) showSecret(secretBox, rotated.secret, `Subscription ${s.id}: the new secret (the old one signs too for a day).`);
    });
    const remove = button('Remove', 'small danger');
    remove.addEventListener('click', async () => {
      if (!window.confirm(`Remove subscription ${s.id} and its delivery log?`)) return;
      const done = await act(remove, () => del(`/events/subscriptions/${s.id}`), `Subscription ${s.id} removed.`);
      if (done !== undefined) ctx.refresh();
    });
    return h('tr', { 'data-subscription': String(s.id) },
      h('th', { scope: 'row' }, String(s.id)),
      h('td', { class: 'url' }, s.url),
      h('td', null, s.types.join(', ')),
      h('td', null, filters || h('span', { class: 'muted' }, '—')),
      h('td', null, badge(s.status, STATUS_KIND[s.status] || 'muted'),
        s.disabled_reason ? h('div', { class: 'last-error' }, s.disabled_reason) : null,
        s.consecutive_failures ? h('div', { class: 'muted' }, `${s.consecutive_failures} failed in a row`) : null),
      h('td', { class: 'row-actions' }, toggle, rotate, remove));
  });
  const headers = ['Id', 'URL', 'Types', 'Filters', 'Status', 'Actions'];
  return h('div', { class: 'table-wrap card' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'Event subscriptions'),
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows)));
}

function deliveryTable(deliveries, ctx) {
  const rows = deliveries.map((d) => {
    const replay = button('Replay');
    replay.addEventListener('click', async () => {
      const done = await act(replay, () => post(`/events/deliveries/${d.id}/replay`), `Delivery ${d.id} queued again.`);
      if (done !== undefined) ctx.refresh();
    });
    return h('tr', { 'data-delivery': String(d.id) },
      h('th', { scope: 'row' }, String(d.id)),
      h('td', null, String(d.subscription_id)),
      h('td', null, d.event_type, h('div', { class: 'muted' }, d.event_id)),
      h('td', null, badge(d.status, STATUS_KIND[d.status] || 'muted')),
      h('td', { class: 'num' }, String(d.attempts)),
      h('td', { class: 'num' }, d.last_status == null ? '—' : String(d.last_status)),
      h('td', { class: 'num' }, d.last_latency_ms == null ? '—' : `${d.last_latency_ms} ms`),
      h('td', { class: 'last-error' }, d.last_error || h('span', { class: 'muted' }, '—')),
      h('td', { class: 'row-actions' }, replay));
  });
  const headers = ['Id', 'Subscription', 'Event', 'Status', 'Attempts', 'HTTP', 'Latency', 'Error', 'Actions'];
  return h('div', { class: 'table-wrap card' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'Event deliveries'),
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows)));
}

function subscribeForm(ctx) {
  const url = h('input', { name: 'url', type: 'url', required: true, placeholder: 'https://hooks.example.com/crm' });
  const boxes = TYPES.map((t) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'types', value: t }), ` ${t}`));
  const channel = h('input', { name: 'channel', pattern: '[A-Za-z0-9._@\\-]{1,100}', placeholder: 'any' });
  const intent = h('input', { name: 'intent', pattern: '[A-Za-z0-9._@\\-]{1,100}', placeholder: 'any' });
  const priority = h('input', { name: 'min_priority', type: 'number', min: '0', max: '1000', step: 'any', placeholder: 'any' });
  const error = h('div', { 'aria-live': 'assertive' });
  const submit = h('button', { type: 'submit', class: 'primary' }, 'Subscribe');
  const form = h('form', { class: 'card add-subscription', 'aria-labelledby': 'subscribe-title' },
    h('h2', { id: 'subscribe-title' }, 'Subscribe a URL'),
    field('URL', url, 'A public address; events are POSTed there, signed (Standard Webhooks).'),
    h('fieldset', { class: 'types' }, h('legend', null, 'Event types'), boxes),
    h('div', { class: 'form-row' },
      field('Channel', channel, 'post.* and response.* only'),
      field('Intent', intent, 'post.analyzed only'),
      field('Minimum priority', priority, 'post.analyzed only')),
    error, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const types = [...form.querySelectorAll('input[name=types]:checked')].map((i) => i.value);
    if (!types.length) {
      error.append(errorBox(new Error('Choose at least one event type.'), 'Check the form'));
      return;
    }
    const body = { url: url.value.trim(), types };
    if (channel.value.trim()) body.channel = channel.value.trim();
    if (intent.value.trim()) body.intent = intent.value.trim();
    if (priority.value !== '') body.min_priority = Number(priority.value);
    submit.disabled = true;
    try {
      const created = await post('/events/subscriptions', body);
      notify(`Subscription ${created.subscription.id} created.`, 'success');
      shownOnce = { text: created.secret, what: `Subscription ${created.subscription.id}: its signing secret.` };
      ctx.refresh();
    } catch (e) {
      error.append(errorBox(e, 'The subscription was not created'));
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
