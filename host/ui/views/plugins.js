// Plugins admin: installed plugins and their versions; install, upgrade,
// approve an upgrade that may do more, enable, disable, roll back and remove;
// what the configured plugin indexes offer, installable from there
// (admin only; the server checks too).

import { api, del, get, items, post } from '../api.js';
import { badge, field, h, loading, mount, time } from '../dom.js';
import { act, errorBox, notify } from '../messages.js';

export async function renderPlugins(root, ctx) {
  const admin = ctx.can('admin');
  const list = h('div', null, loading('Loading plugins'));
  root.append(
    h('div', { class: 'view-head' }, h('h1', null, 'Plugins')),
    admin ? installForm(ctx) : h('p', { class: 'muted' }, 'Only admins install and manage plugins.'),
    list,
    admin ? indexOffers(ctx) : null);
  let plugins;
  try {
    plugins = items(await get('/plugins'));
  } catch (e) {
    mount(list, errorBox(e, 'Cannot list the plugins'));
    if (e.status === 401) throw e;
    return;
  }
  if (!plugins.length) {
    mount(list, h('p', { class: 'empty' }, 'No plugin is installed; the bundled ones still run.'));
    return;
  }
  mount(list, h('ul', { class: 'plugin-list' }, plugins.map((p) => pluginCard(p, admin, ctx))));
}

function installForm(ctx) {
  const file = h('input', { type: 'file', name: 'package', accept: '.scpkg', required: true });
  const replace = h('input', { type: 'checkbox', name: 'replace-bundled' });
  const wide = h('input', { type: 'checkbox', name: 'allow-wide-hosts' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Install');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card install', 'aria-labelledby': 'install-title' },
    h('h2', { id: 'install-title' }, 'Install a plugin'),
    field('Package (.scpkg)', file, 'Made with socialcrm plugin pack; checked (and its signature, per policy) before it is stored.'),
    h('div', { class: 'field' },
      h('label', { class: 'check' }, replace, ' Replace the bundled plugin of the same name'),
      h('small', { class: 'hint' },
        'Every account using that name would run this package instead: the refusal without it lists what the package may do beyond the bundled plugin.')),
    h('div', { class: 'field' },
      h('label', { class: 'check' }, wide, ' Allow plain-http or whole-domain hosts'),
      h('small', { class: 'hint' }, 'Only for a package whose allowed hosts include http:// or a wildcard such as *.com.')),
    result,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    result.replaceChildren();
    const chosen = file.files[0];
    if (!chosen) return;
    button.disabled = true;
    try {
      const query = new URLSearchParams();
      if (replace.checked) query.set('replace_bundled', 'true');
      if (wide.checked) query.set('allow_wide_hosts', 'true');
      const path = query.toString() ? `/plugins?${query}` : '/plugins';
      const installed = await api('POST', path, { body: chosen });
      notify(`Installed ${installed.name} ${installed.version}.`, 'success');
      ctx.refresh();
    } catch (e) {
      result.append(errorBox(e, `Cannot install ${chosen.name}`));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function versionRows(versions) {
  if (versions.length < 2) return null;
  return h('details', null,
    h('summary', null, `${versions.length} versions`),
    h('ul', { class: 'versions' }, versions.map((v) => h('li', null,
      h('code', null, v.version),
      v.active ? [' ', badge('active', 'positive')] : null,
      v.awaiting_approval.length ? [' ', badge('awaiting approval', 'warning')] : null,
      ' · ', time(v.installed_at), ` by ${v.installed_by}`))));
}

function pluginCard(p, admin, ctx) {
  const active = p.versions.find((v) => v.active);
  const actions = [];
  if (admin) {
    const run = (label, action, success) => {
      const button = h('button', { type: 'button', class: label === 'Remove' ? 'danger' : '' }, label);
      button.addEventListener('click', async () => {
        if (label === 'Remove' && !window.confirm(`Remove ${p.name} and every version of it?`)) return;
        const done = await act(button, action, success);
        if (done !== undefined) ctx.refresh();
      });
      return button;
    };
    const name = encodeURIComponent(p.name);
    actions.push(p.enabled
      ? run('Disable', () => post(`/plugins/${name}/disable`), `${p.name} disabled.`)
      : run('Enable', () => post(`/plugins/${name}/enable`), `${p.name} enabled.`));
    // Rollback goes back to the previous version: there must be one.
    if (p.versions.length > 1) {
      actions.push(run('Roll back', () => post(`/plugins/${name}/rollback`), `${p.name} rolled back.`));
    }
    actions.push(upgradeControl(p, ctx));
    actions.push(run('Remove', () => del(`/plugins/${name}`), `${p.name} removed.`));
  }
  return h('li', { class: 'card plugin', 'data-plugin': p.name },
    h('div', { class: 'plugin-head' },
      h('h2', null, p.name, ' ', h('code', { class: 'version' }, p.version)),
      h('div', { class: 'badges' },
        badge(p.kind, 'muted'),
        p.network ? badge(p.network, 'muted') : null,
        p.enabled ? badge('enabled', 'positive') : badge('disabled', 'negative'),
        p.signer ? badge(`signed by ${p.signer}`, 'muted') : badge('unsigned', 'warning'))),
    p.description ? h('p', null, p.description) : null,
    active ? h('p', { class: 'muted small' }, 'Installed ', time(active.installed_at), ` by ${active.installed_by}`) : null,
    versionRows(p.versions),
    p.versions.filter((v) => v.awaiting_approval.length).map((v) => approval(p, v, admin, ctx)),
    admin && p.kind === 'channel' ? egressLog(p) : null,
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

// The plugin's outgoing requests, newest first, loaded when opened.
function egressLog(p) {
  const body = h('div', null, loading('Loading requests'));
  const box = h('details', { class: 'egress' }, h('summary', null, 'Recent requests'), body);
  box.addEventListener('toggle', async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = 'yes';
    try {
      const page = await get(`/plugins/${encodeURIComponent(p.name)}/egress?limit=20`);
      mount(body, page.items.length
        ? h('ul', { class: 'versions' }, page.items.map((e) => h('li', null,
          h('code', null, `${e.method} ${e.scheme}://${e.host}${e.path}`), ' ',
          e.refused ? badge('refused', 'negative')
            : e.error ? badge('failed', 'warning') : badge(String(e.status), 'muted'),
          ` · ${e.call}${e.account ? ` for ${e.account}` : ''} · `, time(e.at),
          e.refused || e.error ? h('div', { class: 'muted small' }, e.refused || e.error) : null)))
        : h('p', { class: 'empty' }, 'No request logged in the last 30 days.'));
    } catch (e) {
      mount(body, errorBox(e, 'Cannot load the requests'));
    }
  });
  return box;
}

// A version stored by an upgrade that may do more than the active one: what
// it would be allowed, and the admin's button to grant it.
function approval(p, v, admin, ctx) {
  let button = null;
  if (admin) {
    button = h('button', { type: 'button', class: 'primary' }, `Approve ${v.version}`);
    const path = `/plugins/${encodeURIComponent(p.name)}/versions/${encodeURIComponent(v.version)}/approve`;
    button.addEventListener('click', async () => {
      const done = await act(button, () => post(path), `${p.name} ${v.version} approved and active.`);
      if (done !== undefined) ctx.refresh();
    });
  }
  return h('div', { class: 'approval', 'data-version': v.version },
    h('p', null, `${v.version} awaits approval; beyond ${p.version} it may also:`),
    h('ul', null, v.awaiting_approval.map((line) => h('li', null, line))),
    button);
}

function upgradeControl(p, ctx) {
  const file = h('input', { type: 'file', accept: '.scpkg', class: 'sr-only', id: `upgrade-${p.name}` });
  const label = h('label', { for: file.id, class: 'button' }, 'Upgrade…');
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const upgrade = () => api('POST', `/plugins/${encodeURIComponent(p.name)}/upgrade`, { body: chosen });
    // An upgrade that may do more is stored, not active: say so.
    const said = (after) => (after.version === p.version
      ? `${p.name}: the new version awaits approval (see below).`
      : `${p.name} upgraded.`);
    const done = await act(null, upgrade, said);
    file.value = '';
    if (done !== undefined) ctx.refresh();
  });
  return h('span', null, file, label);
}

// What the configured indexes offer (each fetched and its signature verified
// by the server), loaded when opened: every fetch goes to the index hosts.
function indexOffers(ctx) {
  const body = h('div', null, loading('Fetching the indexes'));
  const box = h('details', { class: 'card index-offers' },
    h('summary', null, h('h2', { class: 'inline' }, 'Available from plugin indexes')), body);
  box.addEventListener('toggle', async () => {
    if (!box.open || box.dataset.loaded) return;
    box.dataset.loaded = 'yes';
    let answer;
    try {
      answer = await get('/plugin-index');
    } catch (e) {
      mount(body, errorBox(e, 'Cannot list what the indexes offer'));
      return;
    }
    const refused = answer.refused.map((r) => h('p', { class: 'warning' }, `Index ${r.index} left out: ${r.error}`));
    if (!answer.items.length) {
      mount(body, refused, h('p', { class: 'empty' },
        'No plugin offered. Add an index with socialcrm plugin index add NAME URL --key KEY.pub.'));
      return;
    }
    mount(body, refused, h('ul', { class: 'plugin-list' }, answer.items.map((o) => offerCard(o, ctx))));
  });
  return box;
}

function offerCard(o, ctx) {
  const perms = o.permissions;
  let action = null;
  if (!o.installed) {
    action = h('button', { type: 'button', class: 'primary' }, `Install ${o.version}`);
    action.addEventListener('click', async () => {
      const install = () => post('/plugin-index/install', { name: o.name, version: o.version, index: o.index });
      const done = await act(action, install, `Installed ${o.name} ${o.version}.`);
      if (done !== undefined) ctx.refresh();
    });
  }
  return h('li', { class: 'card plugin', 'data-offer': o.name },
    h('div', { class: 'plugin-head' },
      h('h2', null, o.name, ' ', h('code', { class: 'version' }, o.version)),
      h('div', { class: 'badges' },
        badge(o.kind, 'muted'),
        o.network ? badge(o.network, 'muted') : null,
        badge(`index ${o.index}`, 'muted'),
        o.signer ? badge(`signed by ${o.signer}`, 'muted') : badge('unsigned', 'warning'),
        o.installed ? badge(o.outdated ? `installed ${o.installed}, outdated` : `installed ${o.installed}`,
          o.outdated ? 'warning' : 'positive') : null)),
    o.description ? h('p', null, o.description) : null,
    h('dl', { class: 'permissions' },
      h('dt', null, 'May reach'), h('dd', null, perms.allowed_hosts.length ? perms.allowed_hosts.join(', ') : 'no host'),
      h('dt', null, 'Credential'), h('dd', null, perms.credential || 'none'),
      h('dt', null, 'Secrets the host may use'), h('dd', null, perms.secrets.length ? perms.secrets.join(', ') : 'none'),
      h('dt', null, 'Sees'), h('dd', null, perms.sees)),
    action ? h('div', { class: 'actions' }, action) : null);
}
