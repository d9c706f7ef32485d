// Retention: how long each kind of data is kept and what the next run
// (`serve` runs one every hour) will remove; admins change the periods.

import { api, get, items } from '../api.js';
import { field, formatDate, h, loading, mount, number } from '../dom.js';
import { act, errorBox } from '../messages.js';

const KINDS = {
  'raw-payloads': ['Raw payloads', 'A post as the network sent it, counted from when it was ingested. The post stays; its payload is emptied.'],
  'post-text': ['Post text', 'What people wrote, counted from when they wrote it. The post becomes a tombstone: its text, analyses and scores go.'],
  analyses: ['Earlier analyses', 'Analyses no insight reads (an analyzer’s earlier versions). The analysis insights read stays as long as its post.'],
  egress: ['Egress log', 'The requests plugins made to the networks.'],
  audit: ['Audit log', 'Who changed what, and when.'],
  'erasure-receipts': ['Erasure receipts', 'The proof that a person’s data was erased, counted from when the erasure finished.'],
};

const kept = (days) => (days === null ? 'never removed' : `${number(days, 0)} day${days === 1 ? '' : 's'}`);

export async function renderRetention(root, ctx) {
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Retention')));
  const list = h('div', null, loading('Loading the retention policy'));
  root.append(list);
  try {
    const policy = items(await get('/retention'));
    mount(list, table(policy, ctx));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot read the retention policy'));
    if (e.status === 401) throw e;
  }
}

function table(policy, ctx) {
  const headers = ['Data', 'Kept for', 'Default', 'Next run removes'];
  if (ctx.can('admin')) headers.push('Change');
  const rows = policy.map((item) => {
    const [title, about] = KINDS[item.kind] || [item.kind, ''];
    const due = item.cutoff === null
      ? h('span', { class: 'muted' }, 'nothing')
      : h('span', null, `${number(item.due, 0)} `, h('span', { class: 'muted' }, `(from before ${formatDate(item.cutoff)})`));
    return h('tr', { 'data-kind': item.kind },
      h('th', { scope: 'row' }, h('div', null, title), h('small', { class: 'muted' }, about)),
      h('td', null, kept(item.days)),
      h('td', null, kept(item.default_days)),
      h('td', null, due),
      ctx.can('admin') ? h('td', null, change(item, title, ctx)) : null);
  });
  return h('div', { class: 'table-wrap card' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'Retention policy'),
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows)));
}

/** A period's form: days, or empty for never. */
function change(item, title, ctx) {
  const days = h('input', {
    name: 'days', type: 'number', min: 1, max: 36500, step: 1, inputmode: 'numeric',
    value: item.days ?? '', placeholder: 'never',
  });
  const save = h('button', { type: 'submit', class: 'small' }, 'Save');
  const form = h('form', { class: 'inline-form' },
    field(`Days to keep ${title.toLowerCase()}`, days, 'Empty: never removed.'), save);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const value = days.value.trim() === '' ? null : Number(days.value);
    const done = await act(save, () => api('PUT', `/retention/${item.kind}`, { body: { days: value } }),
      `${title}: kept for ${kept(value)}.`);
    if (done !== undefined) ctx.refresh();
  });
  return form;
}
