// The audit log (admins only): every change with who made it, newest first,
// filtered by actor, action and time, page by page.

import { get } from '../api.js';
import { field, h, loading, mount, time } from '../dom.js';
import { errorBox } from '../messages.js';

export async function renderAudit(root, ctx) {
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Audit log')));
  if (!ctx.can('admin')) {
    root.append(h('p', { class: 'empty' }, 'Only admins read the audit log.'));
    return;
  }
  const p = ctx.params;
  const actor = h('input', { name: 'actor', value: p.get('actor') || '', placeholder: 'demo-admin' });
  const action = h('input', { name: 'action', value: p.get('action') || '', placeholder: 'post.assignee' });
  const since = h('input', { name: 'since', type: 'date', value: p.get('since') || '' });
  const until = h('input', { name: 'until', type: 'date', value: p.get('until') || '' });
  const form = h('form', { class: 'filters' },
    field('Actor', actor), field('Action', action), field('From', since), field('To (inclusive)', until),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Filter')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const q = new URLSearchParams();
    for (const input of [actor, action, since, until]) if (input.value.trim()) q.set(input.name, input.value.trim());
    ctx.navigate(`#/audit${q.size ? `?${q}` : ''}`);
  });
  const body = h('tbody');
  const more = h('div');
  const list = h('div', null, loading('Loading the audit log'));
  root.append(form, list);

  // Dates are the browser's local days: `until` is the day after the one chosen.
  const day = (value, plus = 0) => {
    const d = new Date(`${value}T00:00:00`);
    d.setDate(d.getDate() + plus);
    return d.getTime();
  };
  const query = { limit: 50 };
  if (p.get('actor')) query.actor = p.get('actor');
  if (p.get('action')) query.action = p.get('action');
  if (p.get('since')) query.since = day(p.get('since'));
  if (p.get('until')) query.until = day(p.get('until'), 1);

  const load = async (cursor) => {
    const page = await get('/audit', cursor ? { ...query, cursor } : query);
    body.append(...page.items.map(row));
    mount(more, page.next_cursor ? moreButton(() => load(page.next_cursor), more) : null);
    return page.items.length;
  };
  try {
    const count = await load(null);
    mount(list, count
      ? h('div', { class: 'table-wrap card' }, h('table', null,
        h('caption', { class: 'sr-only' }, 'Audit entries'),
        h('thead', null, h('tr', null, ['When', 'Actor', 'Action', 'Subject', 'Details'].map((x) => h('th', { scope: 'col' }, x)))),
        body), more)
      : h('p', { class: 'empty' }, 'No entry matches.'));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot read the audit log'));
    if (e.status === 401) throw e;
  }
}

function row(e) {
  const details = e.details && Object.keys(e.details).length ? JSON.stringify(e.details) : '';
  return h('tr', { 'data-audit': String(e.id) },
    h('td', null, time(e.at)),
    h('th', { scope: 'row' }, e.actor),
    h('td', null, h('code', null, e.action)),
    h('td', null, e.subject),
    h('td', { class: 'details' }, details ? h('code', null, details) : h('span', { class: 'muted' }, '—')));
}

function moreButton(load, holder) {
  const button = h('button', { type: 'button', class: 'small' }, 'Older entries');
  button.addEventListener('click', async () => {
    button.disabled = true;
    try {
      await load();
    } catch (e) {
      mount(holder, errorBox(e, 'Cannot read more'));
    }
  });
  return button;
}
