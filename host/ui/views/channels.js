// Channels admin: the accounts with their status and last error; add one
// (the plugin checks it first), sync now, remove.

import { del, get, items, post } from '../api.js';
import { badge, field, h, loading, mount, number } from '../dom.js';
import { act, errorBox, notify } from '../messages.js';

const STATUS_KIND = { active: 'positive', paused: 'warning', failing: 'negative', error: 'negative' };

export async function renderChannels(root, ctx) {
  const admin = ctx.can('admin');
  const list = h('div', null, loading('Loading channels'));
  const add = h('div');
  root.append(h('div', { class: 'view-head' }, h('h1', null, 'Channels')), list, add);
  let channels;
  try {
    channels = items(await get('/channels'));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot list the channels'));
    if (e.status === 401) throw e;
    return;
  }
  mount(list, channels.length ? table(channels, admin, ctx) : h('p', { class: 'empty' }, 'No channel account yet.'));
  if (admin) add.append(await addForm(ctx));
}

function table(channels, admin, ctx) {
  const rows = channels.map((c) => {
    const cells = [
      h('th', { scope: 'row' }, c.name),
      h('td', null, c.plugin, c.network && c.network !== c.plugin ? h('span', { class: 'muted' }, ` (${c.network})`) : null),
      h('td', null, badge(c.status, STATUS_KIND[c.status] || 'muted')),
      h('td', { class: 'num' }, number(c.posts, 0)),
      h('td', { class: 'last-error' }, c.last_error || h('span', { class: 'muted' }, '—')),
    ];
    if (admin) {
      const name = encodeURIComponent(c.name);
      const sync = h('button', { type: 'button', class: 'small' }, 'Sync now');
      sync.addEventListener('click', async () => {
        const done = await act(sync, () => post(`/channels/${name}/sync`), (r) => syncMessage(c.name, r));
        if (done !== undefined) ctx.refresh();
      });
      const remove = h('button', { type: 'button', class: 'small danger' }, 'Remove');
      remove.addEventListener('click', async () => {
        if (!window.confirm(`Remove the channel ${c.name}? Its posts stay.`)) return;
        const done = await act(remove, () => del(`/channels/${name}`), `${c.name} removed.`);
        if (done !== undefined) ctx.refresh();
      });
      cells.push(h('td', { class: 'row-actions' }, sync, remove));
    }
    return h('tr', { 'data-channel': c.name }, cells);
  });
  const headers = ['Name', 'Plugin', 'Status', 'Posts', 'Last error', ...(admin ? ['Actions'] : [])];
  return h('div', { class: 'table-wrap card' }, h('table', null,
    h('caption', { class: 'sr-only' }, 'Channel accounts'),
    h('thead', null, h('tr', null, headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, rows)));
}

function syncMessage(name, report) {
  if (report && report.status === 'running') return `${name}: the sync goes on in the background.`;
  if (!report || typeof report !== 'object') return `${name} synced.`;
  const parts = Object.entries(report)
    .filter(([, v]) => typeof v === 'number')
    .map(([k, v]) => `${v} ${k.replace(/_/g, ' ')}`);
  return parts.length ? `${name} synced: ${parts.join(', ')}.` : `${name} synced.`;
}

/** `key=value` lines as an object; blank lines skipped. */
function pairs(text) {
  const out = {};
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (!trimmed) continue;
    const at = trimmed.indexOf('=');
    if (at < 1) throw new Error(`“${trimmed}” is not key=value`);
    out[trimmed.slice(0, at).trim()] = trimmed.slice(at + 1).trim();
  }
  return out;
}

async function addForm(ctx) {
  // Installed channel plugins are offered; a bundled one is typed by name.
  let installed = [];
  try {
    installed = items(await get('/plugins')).filter((p) => p.kind === 'channel').map((p) => p.name);
  } catch (e) {
    if (e.status === 401) throw e;
  }
  const options = h('datalist', { id: 'channel-plugins' }, installed.map((n) => h('option', { value: n })));
  const plugin = h('input', { name: 'plugin', required: true, list: options.id, placeholder: 'mastodon', autocomplete: 'off' });
  const name = h('input', { name: 'name', required: true, pattern: '[A-Za-z0-9._\\-]{1,64}', placeholder: 'brand' });
  const fields = h('div', { class: 'config-fields' });
  const error = h('div', { 'aria-live': 'assertive' });
  let inputs = null;
  const generic = () => {
    inputs = null;
    mount(fields,
      field('Configuration (key=value per line)', h('textarea', { name: 'config', rows: '3', placeholder: 'instance=https://mastodon.social' })),
      field('Secrets (key=value per line)', h('textarea', { name: 'secrets', rows: '2', placeholder: 'access-token=…', autocomplete: 'off' }),
        'Encrypted at rest; never given to the plugin.'));
  };
  // An installed plugin describes its fields; otherwise key=value lines.
  const showFields = async () => {
    const chosen = plugin.value.trim();
    let spec = null;
    if (installed.includes(chosen)) {
      try {
        spec = (await get(`/plugins/${encodeURIComponent(chosen)}`)).config;
      } catch {
        // Undescribed: key=value lines (a 401 is the app's to handle).
      }
    }
    if (!Array.isArray(spec) || !spec.length) {
      generic();
      return;
    }
    inputs = spec.map((f) => {
      const input = h('input', { name: f.name, type: f.secret ? 'password' : 'text', required: f.required, autocomplete: 'off' });
      input.dataset.secret = f.secret ? '1' : '';
      return { input, el: field(`${f.name}${f.required ? '' : ' (optional)'}${f.secret ? ' (secret)' : ''}`, input, f.description) };
    });
    mount(fields, inputs.map((i) => i.el));
  };
  plugin.addEventListener('change', showFields);
  generic();
  const button = h('button', { type: 'submit', class: 'primary' }, 'Add channel');
  const form = h('form', { class: 'card add-channel', 'aria-labelledby': 'add-channel-title' },
    h('h2', { id: 'add-channel-title' }, 'Add a channel account'),
    h('div', { class: 'form-row' }, field('Plugin', plugin, 'Its name, e.g. mastodon, bluesky, reddit'), options,
      field('Account name', name, 'Letters, digits, . _ -')),
    fields, error,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.replaceChildren();
    let config = {};
    let secrets = {};
    try {
      if (inputs) {
        for (const { input } of inputs) {
          if (!input.value) continue;
          (input.dataset.secret ? secrets : config)[input.name] = input.value;
        }
      } else {
        config = pairs(fields.querySelector('[name=config]').value);
        secrets = pairs(fields.querySelector('[name=secrets]').value);
      }
    } catch (e) {
      error.append(errorBox(e, 'Check the form'));
      return;
    }
    button.disabled = true;
    try {
      await post('/channels', { plugin: plugin.value.trim(), name: name.value.trim(), config, secrets });
      notify(`Channel ${name.value.trim()} added.`, 'success');
      ctx.refresh();
    } catch (e) {
      error.append(errorBox(e, 'The channel was not added'));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}
