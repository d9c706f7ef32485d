// Insights: sentiment over time, the most discussed topics, spike alerts with
// example posts, the advocates ranking with its evidence, the churn ranking.

import { get, items, post } from '../api.js';
import { barChart, sentimentChart } from '../charts.js';
import { badge, h, loading, mount, number, percent, select, time } from '../dom.js';
import { act, errorBox } from '../messages.js';

const DAY = 86_400_000;
const PERIODS = [['7', 'Last 7 days'], ['30', 'Last 30 days'], ['90', 'Last 90 days'], ['365', 'Last year']];

export async function renderInsights(root, ctx) {
  const days = Number(ctx.params.get('days')) || 30;
  const topic = ctx.params.get('topic') || '';
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
  };
  root.append(head, h('div', { class: 'grid-insights' }, Object.values(sections).map((x) => x.el)));
  await Promise.all([
    fill(sections.trends, () => trends(days, topic, ctx)),
    fill(sections.topics, topics),
    fill(sections.alerts, alerts),
    fill(sections.advocates, advocates),
    fill(sections.churn, churn),
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

async function trends(days, topic, ctx) {
  const until = Date.now();
  const since = until - days * DAY;
  const answer = await get('/insights/trends', { bucket: days > 120 ? 'week' : 'day', since, until, topic });
  const period = select('days', PERIODS, String(days));
  period.id = 'insights-days';
  const topicInput = h('input', { name: 'topic', id: 'insights-topic', value: topic, placeholder: 'all topics', size: '14' });
  const form = h('form', { class: 'inline-form' },
    h('label', { for: period.id }, 'Period'), period,
    h('label', { for: topicInput.id }, 'Topic'), topicInput,
    h('button', { type: 'submit' }, 'Show'));
  const go = (event) => {
    event.preventDefault();
    const q = new URLSearchParams({ days: period.value });
    if (topicInput.value.trim()) q.set('topic', topicInput.value.trim());
    ctx.navigate(`#/insights?${q}`);
  };
  form.addEventListener('submit', go);
  period.addEventListener('change', go);
  const points = items(answer);
  const title = `Mean sentiment and posts per ${days > 120 ? 'week' : 'day'}${topic ? ` about “${topic}”` : ''}`;
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
