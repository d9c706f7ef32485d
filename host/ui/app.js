// The socialcrm web UI: hash routes (`#/inbox?status=open`, `#/contacts/7`),
// one view module per screen, the token's role deciding what is offered.

import { api, inSession, setToken, signOut, ssoSession, token, whenUnauthorized } from './api.js';
import { h, mount } from './dom.js';
import { notify, clearMessages } from './messages.js';
import { renderLogin } from './views/login.js';
import { renderInbox } from './views/inbox.js';
import { renderContacts } from './views/contacts.js';
import { renderIdentity } from './views/identity.js';
import { renderInsights } from './views/insights.js';
import { renderChannels } from './views/channels.js';
import { renderImports } from './views/imports.js';
import { renderPlugins } from './views/plugins.js';
import { renderEvents } from './views/events.js';
import { renderTokens } from './views/tokens.js';
import { renderAudit } from './views/audit.js';
import { renderRetention } from './views/retention.js';

const ROUTES = [
  { path: 'inbox', title: 'Inbox', render: renderInbox },
  { path: 'contacts', title: 'Customers', render: renderContacts },
  { path: 'identity', title: 'Identity review', render: renderIdentity },
  { path: 'insights', title: 'Insights', render: renderInsights },
  { path: 'channels', title: 'Channels', render: renderChannels },
  { path: 'imports', title: 'Import', render: renderImports },
  { path: 'plugins', title: 'Plugins', render: renderPlugins },
  { path: 'events', title: 'Events', render: renderEvents },
  { path: 'tokens', title: 'Tokens', render: renderTokens },
  { path: 'audit', title: 'Audit log', render: renderAudit },
  { path: 'retention', title: 'Retention', render: renderRetention },
];

const RANK = { viewer: 0, agent: 1, admin: 2 };

// `returnTo`: where to go after logging in (the page a 401 interrupted, or a deep link).
// `sso`: `/auth/session`'s answer, asked once at start.
const state = { me: null, returnTo: '#/inbox', sso: null };

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');

/** The current hash as a route name, its path arguments and its query. */
function where() {
  const hash = window.location.hash.replace(/^#\/?/, '');
  const [path, search = ''] = hash.split('?');
  const [route = '', ...args] = path.split('/').filter(Boolean).map(decodeURIComponent);
  return { route, args, params: new URLSearchParams(search) };
}

function navigate(hash) {
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

/** Forgets the token or ends the session; after a failure (`error`), logging in again returns to this page. */
async function logout(message, { error = false } = {}) {
  if (!window.location.hash.startsWith('#/login')) state.returnTo = error ? window.location.hash : '#/inbox';
  if (inSession()) await signOut();
  setToken(null);
  state.me = null;
  clearMessages();
  notify(message, error ? 'error' : 'info');
  navigate('#/login');
}

function chrome(current) {
  const signedIn = Boolean(state.me);
  nav.hidden = !signedIn;
  who.hidden = !signedIn;
  if (!signedIn) return;
  mount(nav, h('ul', null, ROUTES.map((r) => h('li', null,
    h('a', { href: `#/${r.path}`, 'aria-current': r.path === current ? 'page' : null }, r.title)))));
  mount(who,
    h('span', { class: 'who-name' }, state.me.name),
    h('span', { class: `badge badge-role` }, state.me.role),
    h('button', { type: 'button', class: 'link', onClick: () => logout('You are logged out.') }, 'Log out'));
}

async function route({ focus = true } = {}) {
  const { route: name, args, params } = where();
  if (!state.sso) state.sso = await ssoSession();
  if (!state.me && (token() || inSession())) {
    try {
      state.me = await api('GET', '/me');
    } catch (e) {
      // A 401 has already sent us to the login screen.
      if (e.status !== 401) logout(`Cannot check the token: ${e.message}`, { error: true });
      return;
    }
  }
  if (!state.me) {
    if (name && name !== 'login') state.returnTo = window.location.hash;
    chrome(null);
    document.title = 'Log in · socialcrm';
    renderLogin(mount(main), {
      provider: state.sso.provider,
      onLogin: (me) => {
        state.me = me;
        clearMessages();
        navigate(state.returnTo);
      },
    });
    return;
  }
  const view = ROUTES.find((r) => r.path === name);
  if (!view) {
    navigate('#/inbox');
    return;
  }
  chrome(view.path);
  document.title = `${view.title} · socialcrm`;
  const container = mount(main);
  const ctx = {
    me: state.me,
    args,
    params,
    can: (role) => RANK[state.me.role] >= RANK[role],
    navigate,
    refresh: () => route({ focus: false }),
  };
  try {
    await view.render(container, ctx);
  } catch (e) {
    if (e.status !== 401) notify(e, 'error');
  }
  if (focus) main.focus({ preventScroll: true });
}

// A page's requests fail together: the first 401 logs out, the others find no token.
whenUnauthorized((e) => {
  if (token() || inSession()) logout(`Please log in again: ${e.message}`, { error: true });
});
window.addEventListener('hashchange', route);
route();
