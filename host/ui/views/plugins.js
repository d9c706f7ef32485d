// Plugins admin: installed plugins and their versions; install, upgrade,
// enable, disable, roll back and remove (admin only; the server checks too).

import { api, del, get, items, post } from '../api.js';
import { badge, field, h, loading, mount, time } from '../dom.js';
import { act, errorBox, notify } from '../messages.js';

export async function renderPlugins(root, ctx) {
  const admin = ctx.can('admin');
  const list = h('div', null, loading('Loading plugins'));
  root.append(
    h('div', { class: 'view-head' }, h('h1', null, 'Plugins')),
    admin ? installForm(ctx) : h('p', { class: 'muted' }, 'Only admins install and manage plugins.'),
    list);
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
  const button = h('button', { type: 'submit', class: 'primary' }, 'Install');
  const result = h('div', { 'aria-live': 'polite' });
  const form = h('form', { class: 'card install', 'aria-labelledby': 'install-title' },
    h('h2', { id: 'install-title' }, 'Install a plugin'),
    field('Package (.scpkg)', file, 'Made with socialcrm plugin pack; checked (and its signature, per policy) before it is stored.'),
    result,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    result.replaceChildren();
    const chosen = file.files[0];
    if (!chosen) return;
    button.disabled = true;
    try {
      const installed = await api('POST', '/plugins', { body: chosen });
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
    actions.length ? h('div', { class: 'actions' }, actions) : null);
}

function upgradeControl(p, ctx) {
  const file = h('input', { type: 'file', accept: '.scpkg', class: 'sr-only', id: `upgrade-${p.name}` });
  const label = h('label', { for: file.id, class: 'button' }, 'Upgrade…');
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    const done = await act(null, () => api('POST', `/plugins/${encodeURIComponent(p.name)}/upgrade`, { body: chosen }),
      `${p.name} upgraded.`);
    file.value = '';
    if (done !== undefined) ctx.refresh();
  });
  return h('span', null, file, label);
}
