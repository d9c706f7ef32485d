// Customers: a search, and the customer 360 (contact, identities and their
// link status, value and churn scores with explanations, transactions, the
// social timeline and the conversations, each opening in the inbox).

import { download, get, items, post } from '../api.js';
import { badge, field, h, loading, money, mount, number, percent, sentimentBadge, time } from '../dom.js';
import { errorBox } from '../messages.js';

export async function renderContacts(root, ctx) {
  if (ctx.args[0]) return renderContact(root, ctx, ctx.args[0]);
  const q = ctx.params.get('q') ?? '';
  const input = h('input', { type: 'search', name: 'q', value: q, placeholder: 'Name, email, CRM id or handle' });
  const form = h('form', { class: 'search', role: 'search' },
    field('Search customers', input),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'primary' }, 'Search')));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const value = input.value.trim();
    ctx.navigate(value ? `#/contacts?q=${encodeURIComponent(value)}` : '#/contacts');
  });
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Customers')), form, results);
  await search(results, q);
}

async function search(results, q, cursor = null) {
  const wait = loading('Searching');
  results.append(wait);
  let answer;
  try {
    answer = await get('/contacts', { q, cursor, limit: 50 });
  } catch (e) {
    mount(results, errorBox(e, 'Cannot search the customers'));
    if (e.status === 401) throw e;
    return;
  }
  wait.remove();
  const contacts = items(answer);
  if (!cursor && !contacts.length) {
    results.append(h('p', { class: 'empty' }, q ? `No customer matches “${q}”.` : 'No customers yet: import them with socialcrm import contacts.'));
    return;
  }
  let table = results.querySelector('tbody');
  if (!table) {
    table = h('tbody');
    results.append(h('div', { class: 'table-wrap' }, h('table', null,
      h('caption', { class: 'sr-only' }, 'Customers'),
      h('thead', null, h('tr', null, ['Name', 'CRM id', 'Email', 'Company'].map((c) => h('th', { scope: 'col' }, c)))),
      table)));
  }
  for (const c of contacts) {
    table.append(h('tr', null,
      h('td', null, h('a', { href: `#/contacts/${c.id}` }, c.name || `contact ${c.id}`)),
      h('td', null, c.external_id),
      h('td', null, c.email || ''),
      h('td', null, c.company || '')));
  }
  if (answer && answer.next_cursor) {
    const more = h('button', { type: 'button' }, 'More results');
    more.addEventListener('click', () => {
      more.remove();
      search(results, q, answer.next_cursor);
    });
    results.append(more);
  }
}

function dl(pairs) {
  return h('dl', { class: 'facts' }, pairs
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => [h('dt', null, k), h('dd', null, v)]));
}

const LINK_KIND = { confirmed: 'positive', proposed: 'warning', rejected: 'negative' };

function identities(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'No social identity is linked to this customer.');
  return h('ul', { class: 'identities' }, list.map((l) => h('li', { class: 'identity' },
    h('div', null,
      h('strong', null, l.display_name || l.handle),
      h('span', { class: 'muted' }, ` @${l.handle} · ${l.network}`)),
    h('div', { class: 'badges' },
      badge(l.status, LINK_KIND[l.status] || 'muted'),
      badge(l.method, 'muted'),
      badge(`confidence ${percent(l.confidence)}`, 'muted'),
      l.status === 'proposed' ? h('a', { href: '#/identity' }, 'review') : null))));
}

function meter(label, value, explanation, kind) {
  return h('div', { class: 'score' },
    h('div', { class: 'score-head' }, h('span', null, label), h('strong', null, percent(value))),
    h('div', { class: 'meter' },
      h('progress', { max: '1', value: String(value ?? 0), class: kind, 'aria-label': `${label} ${percent(value)}` })),
    explanation ? h('p', { class: 'explanation' }, explanation) : null);
}

function scores(sc) {
  if (!sc) return h('p', { class: 'muted' }, 'Not scored yet (socialcrm insights recompute).');
  const { signals } = sc;
  const ltv = signals.ltv_currency ? money(signals.ltv, signals.ltv_currency) : number(signals.ltv);
  const value = signals.orders
    ? `Lifetime value ${ltv} over ${signals.orders} orders: worth at least as much as ${percent(signals.value_pct)} of customers.`
    : 'No purchases yet.';
  return h('div', { class: 'scores' },
    meter('Value percentile', signals.value_pct, value, 'value'),
    meter('Churn risk', sc.churn, sc.explanation, 'churn'),
    dl([
      ['Lifetime value', signals.ltv !== undefined ? ltv : null],
      ['Not converted', signals.unconverted ? `${signals.unconverted} transactions in currencies without a rate` : null],
      ['Orders', signals.orders],
      ['Orders in 12 months', signals.orders_year],
      ['Days since last order', signals.days_since_order],
      ['Negative posts this week', signals.negative_week],
    ]));
}

/** What the contact spent per currency; each converted where a rate exists, never summed. */
function values(list, reporting) {
  if (!list.length) return h('p', { class: 'muted' }, 'No orders or refunds.');
  return h('div', { class: 'table-wrap' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'Value by currency'),
    h('thead', null, h('tr', null, ['Currency', 'Orders', 'Spent', 'Refunded', 'Net', `In ${reporting || 'the reporting currency'}`]
      .map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', null, list.map((v) => h('tr', null,
      h('td', null, v.currency),
      h('td', null, number(v.orders)),
      h('td', null, money(v.spent, v.currency)),
      h('td', null, money(v.refunded, v.currency)),
      h('td', null, money(v.net, v.currency)),
      h('td', null, v.converted === null ? badge('no rate', 'warning') : money(v.converted, reporting)))))));
}

/** The sources that hold the contact, and when each last synced. */
function sources(list) {
  if (!list.length) return h('p', { class: 'muted' }, 'From no source account (imported, or seen only on social networks).');
  return h('ul', { class: 'sources' }, list.map((s) => h('li', null,
    h('strong', null, s.account), ` (${s.source}) `, h('code', null, s.external_id), ' ',
    s.active ? null : badge('deleted upstream', 'warning'), ' ',
    h('span', { class: 'muted' }, s.last_synced_at ? `last synced ${time(s.last_synced_at)}` : 'not synced yet'))));
}

/** A paged section: fetches `path` and appends rows made by `row`. */
async function paged(container, path, row, empty, cursor = null) {
  const wait = loading();
  container.append(wait);
  let answer;
  try {
    answer = await get(path, { cursor, limit: 20 });
  } catch (e) {
    wait.replaceWith(errorBox(e, 'Cannot load this list'));
    return;
  }
  wait.remove();
  const list = items(answer);
  if (!cursor && !list.length) {
    container.append(h('p', { class: 'muted' }, empty));
    return;
  }
  let ul = container.querySelector('.paged');
  if (!ul) {
    ul = h('ul', { class: 'paged' });
    container.append(ul);
  }
  for (const item of list) ul.append(row(item));
  if (answer && answer.next_cursor) {
    const more = h('button', { type: 'button' }, 'Load more');
    more.addEventListener('click', () => {
      more.remove();
      paged(container, path, row, empty, answer.next_cursor);
    });
    container.append(more);
  }
}

function transactionRow(t) {
  return h('li', { class: 'row' },
    h('span', null, time(t.occurred_at, false)),
    h('span', null, t.kind, t.product ? ` · ${t.product}` : ''),
    h('strong', { class: 'amount' }, money(t.amount, t.currency)));
}

function timelineRow(p) {
  const a = p.author || {};
  return h('li', { class: 'timeline-item' },
    h('div', { class: 'post-foot muted' },
      time(p.created_at), ` · ${p.channel ?? a.network ?? ''}`, a.handle ? ` · @${a.handle}` : '',
      p.direction === 'outbound' ? ' · our reply' : ''),
    h('p', null, p.text),
    h('div', { class: 'badges' },
      p.direction === 'outbound' ? null : sentimentBadge(p.sentiment_label, p.sentiment),
      p.intent ? badge(p.intent, 'intent') : null,
      (p.signals || []).map((s) => badge(`${s.name}: ${s.value}`, 'signal'))));
}

const WINDOW_TIME = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A conversation's reply window (messaging channels), as a badge. */
function windowBadge(w) {
  if (!w) return null;
  return w.open
    ? badge(`free text until ${WINDOW_TIME.format(new Date(w.open_until))}`, 'positive')
    : badge('window closed: template only', 'warning');
}

/** The contact's conversations, most recently active first, each opening its latest post in the inbox. */
async function conversations(container, id) {
  const wait = loading('Loading the conversations');
  container.append(wait);
  let answer;
  try {
    answer = await get(`/contacts/${id}/conversations`);
  } catch (e) {
    wait.replaceWith(errorBox(e, 'Cannot load the conversations'));
    return;
  }
  wait.remove();
  const list = (answer && answer.items) || [];
  if (!list.length) {
    container.append(h('p', { class: 'muted' }, 'No conversations with this customer yet.'));
    return;
  }
  container.append(h('ul', { class: 'paged conversations' }, list.map((c) => h('li', {
    class: 'timeline-item conversation', 'data-conversation': c.conversation_id,
  },
  h('div', { class: 'post-foot muted' },
    h('strong', null, c.channel), ` · ${c.network} · `,
    `${number(c.messages, 0)} ${c.messages === 1 ? 'message' : 'messages'} · last `, time(c.last_message_at)),
  c.snippet === null ? h('p', { class: 'muted' }, h('em', null, 'The last message was deleted.')) : h('p', null, c.snippet),
  h('div', { class: 'badges' },
    windowBadge(c.window),
    h('a', { href: `#/inbox/${c.latest_post_id}` }, 'Open in the inbox'))))));
  if (answer.truncated) {
    container.append(h('p', { class: 'muted small' }, 'Only the 100 conversations this customer spoke in last are shown.'));
  }
}

/**
 * The person's rights (docs/privacy.md): what is held about them, an export
 * of all of it, and erasure. Admins only.
 */
function privacy(ctx, c) {
  const status = h('div', { role: 'status' });
  const which = { subject: `contact:${c.id}` };
  // Counting reads every table (a scan for the person's identifiers): on demand.
  const held = h('button', { type: 'button' }, 'Show what is held');
  held.addEventListener('click', async () => {
    held.disabled = true;
    try {
      const s = await get('/subjects', which);
      const counts = Object.entries(s.counts || {}).map(([kind, n]) => `${kind} ${number(n)}`).join(' · ');
      held.replaceWith(h('p', null, `Held about this person: ${counts || 'nothing'}.`));
    } catch (e) {
      held.replaceWith(errorBox(e, 'Cannot count what is held'));
    }
  });
  const exportButton = h('button', { type: 'button' }, 'Export their data');
  exportButton.addEventListener('click', async () => {
    status.replaceChildren();
    try {
      await download('/subjects/export', which, `subject-${c.external_id}.tar`);
    } catch (e) {
      status.replaceChildren(errorBox(e, 'Cannot export'));
    }
  });
  const keep = h('input', { type: 'checkbox', name: 'keep_transactions' });
  const dnt = h('input', { type: 'checkbox', name: 'do_not_track' });
  const eraseButton = h('button', { type: 'button', class: 'danger' }, 'Erase this person');
  eraseButton.addEventListener('click', async () => {
    if (!window.confirm(`Erase ${c.name || `contact ${c.id}`} everywhere? This cannot be undone.`)) return;
    status.replaceChildren();
    try {
      const e = await post('/subjects/erase', { ...which, keep_transactions: keep.checked, do_not_track: dnt.checked });
      status.replaceChildren(h('p', { class: 'ok' }, `Erasing; receipt ${e.receipt}.`));
      eraseButton.disabled = true;
      exportButton.disabled = true;
    } catch (e) {
      status.replaceChildren(errorBox(e, 'Cannot erase'));
    }
  });
  return h('section', { class: 'card wide', 'aria-labelledby': 'c360-privacy' },
    h('h2', { id: 'c360-privacy' }, 'Privacy'),
    h('div', { class: 'actions' },
      held,
      exportButton,
      h('label', null, keep, ' keep transactions, anonymised, for accounting'),
      h('label', null, dnt, ' never track this person again'),
      eraseButton),
    status);
}

async function renderContact(root, ctx, id) {
  root.append(loading('Loading the customer'));
  let data;
  try {
    data = await get(`/contacts/${encodeURIComponent(id)}`);
  } catch (e) {
    mount(root, h('p', null, h('a', { href: '#/contacts' }, '← Customers')), errorBox(e, 'Cannot load this customer'));
    if (e.status === 401) throw e;
    return;
  }
  // The contact's own fields are at the top level, beside its identities, scores and lists.
  const c = data;
  const handles = Object.entries(c.handles || {}).map(([k, v]) => `${k}: ${v}`).join(', ');
  const transactions = h('div');
  const timeline = h('div');
  const talks = h('div');
  mount(root,
    h('p', null, h('a', { href: '#/contacts' }, '← Customers')),
    h('div', { class: 'view-head' },
      h('h1', null, c.name || `Contact ${c.id}`),
      h('span', { class: 'muted' }, `CRM id ${c.external_id}`)),
    h('div', { class: 'grid-360' },
      h('section', { class: 'card', 'aria-labelledby': 'c360-contact' },
        h('h2', { id: 'c360-contact' }, 'Contact'),
        dl([['Email', c.email], ['Phone', c.phone], ['Website', c.website], ['Company', c.company],
          ['Handles', handles], ['In the CRM since', time(c.created_at, false)]])),
      h('section', { class: 'card', 'aria-labelledby': 'c360-scores' },
        h('h2', { id: 'c360-scores' }, 'Scores'),
        scores(data.scores)),
      h('section', { class: 'card', 'aria-labelledby': 'c360-values' },
        h('h2', { id: 'c360-values' }, 'Value by currency'),
        values(data.values || [], data.reporting_currency)),
      h('section', { class: 'card', 'aria-labelledby': 'c360-sources' },
        h('h2', { id: 'c360-sources' }, 'Sources'),
        sources(data.sources || [])),
      h('section', { class: 'card wide', 'aria-labelledby': 'c360-identities' },
        h('h2', { id: 'c360-identities' }, 'Social identities'),
        identities(data.identities)),
      h('section', { class: 'card', 'aria-labelledby': 'c360-tx' },
        h('h2', { id: 'c360-tx' }, 'Transactions'), transactions),
      h('section', { class: 'card', 'aria-labelledby': 'c360-timeline' },
        h('h2', { id: 'c360-timeline' }, 'Social timeline'), timeline),
      h('section', { class: 'card wide', 'aria-labelledby': 'c360-conversations' },
        h('h2', { id: 'c360-conversations' }, 'Conversations'), talks),
      ctx.can('admin') ? privacy(ctx, c) : null));
  await Promise.all([
    paged(transactions, `/contacts/${c.id}/transactions`, transactionRow, 'No transactions.'),
    paged(timeline, `/contacts/${c.id}/timeline`, timelineRow, 'No posts from this customer yet.'),
    conversations(talks, c.id),
  ]);
}
