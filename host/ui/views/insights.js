// Insights: sentiment over time (per topic, product or aspect), the most
// discussed topics, spike alerts with example posts, the advocates ranking
// with its evidence, the churn ranking, and which plugin supplies each
// signal and prediction (admins rebind them).

import { api, get, items, post } from '../api.js';
import { barChart, sentimentChart } from '../charts.js';
import { badge, h, loading, mount, number, percent, select, time } from '../dom.js';
import { act, errorBox } from '../messages.js';

const DAY = 86_400_000;
const PERIODS = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last year']];

export async function renderInsights(root, ctx) {
  const days = Number(ctx.params.get('days')) || 30;
  const trend = Object.fromEntries(['topic', 'product', 'aspect'].map((k) => [k, ctx.params.get(k) || '']));
  const head = h('div', { class: 'view-head' }, h('h1', null, 'Insights'));
  if (ctx.can('admin')) {
    const recompute = h('button', { type: 'button' }, 'Recompute scores now');
    recompute.addEventListener('click', async () => {
      const done = await act(recompute, () => post('/insights/recompute'), 'Scores recomputed.');
      if (done !== undefined) ctx.refresh();
    });
    head.append(recompute);
  }
  const sections = {
    trends: section('Sentiment over time', 'insights-trends'),
    topics: section('Topics', 'insights-topics'),
    alerts: section('Alerts', 'insights-alerts'),
    advocates: section('Advocates', 'insights-advocates'),
    churn: section('Churn risk', 'insights-churn'),
    bindings: section('Analytics plugins', 'insights-bindings'),
  };
  root.append(head, h('div', { class: 'grid-insights' }, Object.values(sections).map((x) => x.el)));
  await Promise.all([
    fill(sections.trends, () => trends(days, trend, ctx)),
    fill(sections.topics, topics),
    fill(sections.alerts, alerts),
    fill(sections.advocates, advocates),
    fill(sections.churn, churn),
    fill(sections.bindings, () => bindings(ctx)),
  ]);
}

function section(title, id) {
  const body = h('div', null, loading());
  const el = h('section', { class: ['card', id === 'insights-trends' ? 'wide' : ''], 'aria-labelledby': id },
    h('h2', { id }, title), body);
  return { el, body };
}

async function fill(sec, make) {
  try {
    mount(sec.body, await make());
  } catch (e) {
    mount(sec.body, errorBox(e, 'Cannot load this'));
    if (e.status === 401) throw e;
  }
}

async function trends(days, trend, ctx) {
  const until = Date.now();
  const since = until - days * DAY;
  const answer = await get('/insights/trends', { bucket: days > 120 ? 'week' : 'day', since, until, ...trend });
  const period = select('days', PERIODS, String(days));
  period.id = 'insights-days';
  const inputs = {
    topic: h('input', { name: 'topic', id: 'insights-topic', value: trend.topic, placeholder: 'all topics', size: '12' }),
    product: h('input', { name: 'product', id: 'insights-product', value: trend.product, placeholder: 'all buyers', size: '10' }),
    aspect: h('input', { name: 'aspect', id: 'insights-aspect', value: trend.aspect, placeholder: 'any', size: '10' }),
  };
  const form = h('form', { class: 'inline-form' },
    h('label', { for: period.id }, 'Period'), period,
    h('label', { for: inputs.topic.id }, 'Topic'), inputs.topic,
    h('label', { for: inputs.product.id }, 'Buyers of'), inputs.product,
    h('label', { for: inputs.aspect.id }, 'Aspect'), inputs.aspect,
    h('button', { type: 'submit' }, 'Show'));
  const go = (event) => {
    event.preventDefault();
    const q = new URLSearchParams({ days: period.value });
    for (const [k, input] of Object.entries(inputs)) if (input.value.trim()) q.set(k, input.value.trim());
    ctx.navigate(`#/insights?${q}`);
  };
  form.addEventListener('submit', go);
  period.addEventListener('change', go);
  const points = items(answer);
  const about = [
    trend.topic ? ` about “${trend.topic}”` : '',
    trend.aspect ? ` on “${trend.aspect}”` : '',
    trend.product ? ` by buyers of ${trend.product}` : '',
  ].join('');
  const title = `Mean sentiment and posts per ${days > 120 ? 'week' : 'day'}${about}`;
  return [form, totals(points), sentimentChart(points, title)];
}

/** The period at a glance: posts, negative share, mean sentiment (weighted by posts). */
function totals(points) {
  const posts = points.reduce((a, p) => a + p.posts, 0);
  const negative = points.reduce((a, p) => a + (p.negative || 0), 0);
  const scored = points.filter((p) => p.mean_sentiment !== null && p.mean_sentiment !== undefined);
  const weight = scored.reduce((a, p) => a + p.posts, 0);
  const mean = weight ? scored.reduce((a, p) => a + p.mean_sentiment * p.posts, 0) / weight : null;
  const stat = (label, value) => h('div', { class: 'stat' }, h('span', { class: 'stat-value' }, value), h('span', { class: 'stat-label' }, label));
  return h('div', { class: 'stats' },
    stat('posts', number(posts, 0)),
    stat('negative', posts ? percent(negative / posts) : '—'),
    stat('mean sentiment', mean === null ? '—' : `${mean > 0 ? '+' : ''}${number(mean)}`));
}

async function topics() {
  const list = items(await get('/insights/topics'));
  if (!list.length) return h('p', { class: 'muted' }, 'No topics yet.');
  const rows = list.slice(0, 12).map((t) => ({ label: t.topic, value: t.posts, part: t.negative }));
  const linked = h('ul', { class: 'chips', 'aria-label': 'Trend of a topic' },
    rows.map((r) => h('li', null, h('a', { href: `#/insights?topic=${encodeURIComponent(r.label)}` }, `#${r.label}`))));
  return [
    barChart(rows, { title: 'Posts per topic', valueLabel: 'posts', partLabel: 'negative' }),
    linked,
  ];
}

async function examplePosts(alert) {
  // An example deleted since the alert was raised is left out.
  const posts = await Promise.all(alert.examples.slice(0, 3).map((id) => get(`/posts/${id}`).catch(() => null)));
  return posts.filter(Boolean).map((p) => h('li', null,
    h('blockquote', null, p.text),
    h('span', { class: 'muted' }, `@${p.author ? p.author.handle : '?'} · `, time(p.created_at))));
}

async function alerts() {
  const list = items(await get('/insights/alerts'));
  if (!list.length) return h('p', { class: 'muted' }, 'No spikes: volume and negative share are within their usual range.');
  const cards = await Promise.all(list.slice(0, 10).map(async (a) => h('li', { class: 'alert-item' },
    h('div', { class: 'badges' },
      badge(a.kind, 'negative'),
      a.status ? badge(a.status, 'muted') : null,
      a.scope === 'aspect' ? badge('aspect', 'topic') : null,
      h('strong', null, a.subject), h('span', { class: 'muted' }, ' · '), time(a.bucket_start, false)),
    h('p', null, a.message),
    h('p', { class: 'muted small' },
      `${a.posts} posts (usually ${number(a.baseline_posts, 1)}), ${a.negative} negative (usually ${percent(a.baseline_negative_share)})`),
    h('details', null, h('summary', null, 'Example posts'), h('ul', { class: 'examples' }, await examplePosts(a))))));
  return h('ul', { class: 'alert-list' }, cards);
}

async function advocates() {
  const list = items(await get('/insights/advocates'));
  if (!list.length) return h('p', { class: 'muted' }, 'No advocates yet.');
  return h('ol', { class: 'ranking' }, list.slice(0, 10).map((a) => h('li', null,
    h('div', { class: 'rank-head' },
      h('span', { class: 'rank' }, `#${a.rank}`),
      a.contact_id ? h('a', { href: `#/contacts/${a.contact_id}` }, a.name) : h('strong', null, a.name),
      h('span', { class: 'points' }, `${a.points} points`)),
    h('p', { class: 'explanation' }, a.explanation),
    a.events && a.events.length ? h('details', null,
      h('summary', null, `Evidence (${a.events.length})`),
      h('ul', { class: 'events' }, a.events.slice(0, 20).map((e) => h('li', null,
        badge(`+${e.points}`, 'positive'), ' ', e.kind, ` by @${e.handle} on ${e.network} · `, time(e.occurred_at),
        ' · post ', String(e.post_id))))) : null)));
}

async function churn() {
  const list = items(await get('/insights/churn'));
  if (!list.length) return h('p', { class: 'muted' }, 'No customer at risk.');
  return h('ol', { class: 'ranking' }, list.slice(0, 10).map((c) => h('li', null,
    h('div', { class: 'rank-head' },
      h('a', { href: `#/contacts/${c.contact_id}` }, c.name || c.external_id),
      h('span', { class: 'points' }, `${percent(c.churn)} risk`)),
    h('p', { class: 'explanation' }, c.explanation))));
}

/** Which analyzer supplies each signal and which scorer each prediction; admins rebind them. */
async function bindings(ctx) {
  const [signals, predictions] = await Promise.all([get('/analyzers/bindings'), get('/scorers/bindings')]);
  const rows = [
    ...items(signals).map((b) => ({ what: b.signal, scope: b.scope, plugin: b.analyzer, by: b.bound_by, path: `/analyzers/bindings/${b.signal}`, key: 'analyzer' })),
    ...items(predictions).map((b) => ({ what: b.prediction, scope: null, plugin: b.scorer, by: b.bound_by, path: `/scorers/bindings/${b.prediction}`, key: 'scorer' })),
  ];
  const admin = ctx.can('admin');
  const table = h('table', { class: 'bindings', 'aria-label': 'Bindings' },
    h('thead', null, h('tr', null, h('th', null, 'Signal'), h('th', null, 'Where'), h('th', null, 'Plugin'), h('th', null, 'Bound by'), admin ? h('th', null, 'Rebind') : null)),
    h('tbody', null, rows.map((r) => h('tr', { 'data-signal': r.what, 'data-scope': r.scope || '' },
      h('td', null, r.what), h('td', null, r.scope || 'everywhere'), h('td', null, h('code', null, r.plugin)), h('td', { class: 'muted' }, r.by),
      admin ? h('td', null, rebind(r, ctx), r.scope ? unbind(r, ctx) : null) : null))));
  return [table, admin ? scoped(items(signals), ctx) : null, h('p', { class: 'muted small' },
    'Per post, a channel\'s binding comes first, then its language\'s, then the one everywhere. A new analyzer must analyse past posts first (socialcrm analyzer reanalyze NAME); scores follow at the next recompute.')];
}

/** A form that binds a signal for one channel account or language. */
function scoped(signals, ctx) {
  const signal = h('select', { name: 'signal', 'aria-label': 'Signal to bind' },
    [...new Set(signals.map((b) => b.signal))].map((s) => h('option', { value: s }, s)));
  const scope = h('input', { name: 'scope', placeholder: 'channel:NAME or language:de', 'aria-label': 'Where', size: '22', required: true });
  const plugin = h('input', { name: 'plugin', placeholder: 'analyzer', 'aria-label': 'Analyzer', size: '14', required: true });
  const button = h('button', { type: 'submit' }, 'Bind there');
  const form = h('form', { class: 'inline-form', 'aria-label': 'Bind for a channel or language' }, signal, scope, plugin, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const done = await act(button, () => api('PUT', `/analyzers/bindings/${signal.value}`, { body: { analyzer: plugin.value.trim(), scope: scope.value.trim() } }),
      (b) => `${b.signal} is now supplied by ${b.analyzer} for ${b.scope}.`);
    if (done !== undefined) ctx.refresh();
  });
  return form;
}

function unbind(row, ctx) {
  const button = h('button', { type: 'button' }, 'Remove');
  button.addEventListener('click', async () => {
    const done = await act(button, () => api('DELETE', row.path, { params: { scope: row.scope } }),
      () => `${row.what} for ${row.scope} now follows the next binding in line.`);
    if (done !== undefined) ctx.refresh();
  });
  return button;
}

function rebind(row, ctx) {
  const input = h('input', { name: 'plugin', value: row.plugin, 'aria-label': `Plugin for ${row.what}`, size: '14', required: true });
  const button = h('button', { type: 'submit' }, 'Bind');
  const form = h('form', { class: 'inline-form' }, input, button);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const body = { [row.key]: input.value.trim(), ...(row.scope ? { scope: row.scope } : {}) };
    const done = await act(button, () => api('PUT', row.path, { body }),
      (b) => `${row.what} is now supplied by ${b[row.key]}.`);
    if (done !== undefined) ctx.refresh();
  });
  return form;
}
