// Charts as inline SVG: a time series (a line over volume bars) and a
// horizontal bar chart. Each has a title and description for screen readers
// and its numbers in a table under "Show data".

import { formatDate, h, number, s, uid } from './dom.js';

// Widths in SVG units, near the pixels each chart gets on a desktop screen, so
// its text keeps about the page's size.
const SERIES_W = 900;
const BARS_W = 480;

function frame(title, description, width, height, ...children) {
  const id = uid('chart');
  return s('svg', {
    class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-labelledby': `${id}-t ${id}-d`,
  },
  s('title', { id: `${id}-t` }, title),
  s('desc', { id: `${id}-d` }, description),
  ...children);
}

function dataTable(caption, headers, rows) {
  return h('details', { class: 'chart-data' },
    h('summary', null, 'Show data'),
    h('div', { class: 'table-wrap' }, h('table', null,
      h('caption', { class: 'sr-only' }, caption),
      h('thead', null, h('tr', null, headers.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', null, rows.map((r) => h('tr', null, r.map((c, i) => h(i ? 'td' : 'th', { scope: i ? null : 'row', class: i ? 'num' : null }, c))))))));
}

/**
 * Sentiment over time: `points` are `{start, posts, negative, mean_sentiment}`;
 * the line is the mean sentiment on [-1, 1], the bars the number of posts.
 */
export function sentimentChart(points, title) {
  const W = SERIES_W;
  const H = 280;
  const pad = { left: 44, right: 44, top: 16, bottom: 32 };
  const plotW = W - pad.left - pad.right;
  const plotH = H - pad.top - pad.bottom;
  const n = Math.max(points.length, 1);
  const step = plotW / n;
  const x = (i) => pad.left + step * (i + 0.5);
  const y = (v) => pad.top + ((1 - v) / 2) * plotH;
  const maxPosts = Math.max(1, ...points.map((p) => p.posts));
  const barH = (v) => (v / maxPosts) * plotH;

  const grid = [-1, -0.5, 0, 0.5, 1].map((v) => [
    s('line', { class: v === 0 ? 'axis-zero' : 'grid', x1: pad.left, x2: W - pad.right, y1: y(v), y2: y(v) }),
    s('text', { class: 'tick', x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, v > 0 ? `+${v}` : String(v)),
  ]);
  const volumeTicks = [0, maxPosts].map((v) => s('text', {
    class: 'tick tick-volume', x: W - pad.right + 6, y: pad.top + plotH - barH(v) + 4,
  }, number(v, 0)));
  const bars = points.map((p, i) => {
    const bw = Math.max(1, step * 0.7);
    const total = barH(p.posts);
    const negative = barH(p.negative || 0);
    return s('g', null,
      s('rect', { class: 'bar-volume', x: x(i) - bw / 2, y: pad.top + plotH - total, width: bw, height: total }),
      s('rect', { class: 'bar-negative', x: x(i) - bw / 2, y: pad.top + plotH - negative, width: bw, height: negative }),
      s('title', null, `${formatDate(p.start)}: ${p.posts} posts, ${p.negative || 0} negative`));
  });
  // The line breaks where a bucket has no sentiment.
  const segments = [];
  let current = '';
  points.forEach((p, i) => {
    if (p.mean_sentiment === null || p.mean_sentiment === undefined) {
      if (current) segments.push(current);
      current = '';
      return;
    }
    current += `${current ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.mean_sentiment).toFixed(1)}`;
  });
  if (current) segments.push(current);
  const dots = points.filter((p) => p.mean_sentiment !== null && p.mean_sentiment !== undefined).map((p) => {
    const i = points.indexOf(p);
    return s('circle', { class: 'dot', cx: x(i), cy: y(p.mean_sentiment), r: 3 },
      s('title', null, `${formatDate(p.start)}: mean sentiment ${number(p.mean_sentiment)}`));
  });
  const labelEvery = Math.max(1, Math.ceil(points.length / 6));
  const xLabels = points.map((p, i) => (i % labelEvery === 0
    ? s('text', { class: 'tick', x: x(i), y: H - 10, 'text-anchor': 'middle' }, formatDate(p.start))
    : null));
  const withSentiment = points.filter((p) => p.mean_sentiment !== null && p.mean_sentiment !== undefined);
  const total = points.reduce((a, p) => a + p.posts, 0);
  const means = withSentiment.map((p) => p.mean_sentiment);
  const description = means.length
    ? `${points.length} buckets from ${formatDate(points[0].start)}, ${total} posts; mean sentiment from ${
      number(Math.min(...means))} to ${number(Math.max(...means))}.`
    : `${total} posts with a sentiment in this period.`;
  return h('figure', { class: 'figure' },
    frame(title, description, W, H, grid, volumeTicks, bars, segments.map((d) => s('path', { class: 'line', d })), dots, xLabels),
    h('figcaption', { class: 'legend' },
      h('span', { class: 'key key-line' }, 'mean sentiment (left axis)'),
      h('span', { class: 'key key-volume' }, 'posts (right axis)'),
      h('span', { class: 'key key-negative' }, 'negative posts')),
    dataTable(title, ['Day', 'Posts', 'Negative', 'Mean sentiment'],
      points.map((p) => [formatDate(p.start), p.posts, p.negative ?? '', number(p.mean_sentiment)])));
}

/** Horizontal bars: `rows` are `{label, value, part}`; `part` (of the value) is drawn inside in red. */
export function barChart(rows, { title, valueLabel, partLabel }) {
  const W = BARS_W;
  const rowH = 26;
  const labelW = 130;
  const H = Math.max(rowH, rows.length * rowH) + 8;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const width = (v) => (v / max) * (W - labelW - 60);
  const bars = rows.map((r, i) => {
    const top = 4 + i * rowH;
    return s('g', null,
      s('text', { class: 'bar-label', x: labelW - 8, y: top + rowH / 2 + 4, 'text-anchor': 'end' },
        r.label.length > 22 ? `${r.label.slice(0, 21)}…` : r.label),
      s('rect', { class: 'bar', x: labelW, y: top + 3, width: width(r.value), height: rowH - 8, rx: 3 }),
      s('rect', { class: 'bar-part', x: labelW, y: top + 3, width: width(r.part), height: rowH - 8, rx: 3 }),
      s('text', { class: 'bar-value', x: labelW + width(r.value) + 6, y: top + rowH / 2 + 4 }, number(r.value, 0)),
      s('title', null, `${r.label}: ${r.value} ${valueLabel}, ${r.part} ${partLabel}`));
  });
  const description = rows.length
    ? rows.slice(0, 5).map((r) => `${r.label} ${r.value}`).join(', ')
    : 'Nothing yet.';
  return h('figure', { class: 'figure' },
    frame(title, description, W, H, bars),
    h('figcaption', { class: 'legend' },
      h('span', { class: 'key key-bar' }, valueLabel), h('span', { class: 'key key-negative' }, partLabel)),
    dataTable(title, ['', valueLabel, partLabel], rows.map((r) => [r.label, r.value, r.part])));
}
