// Log in with a pasted API token (`GET /me` checks it before it is kept), or
// with single sign-on when the server has a provider configured.

import { api, setToken } from '../api.js';
import { field, h } from '../dom.js';
import { errorBox } from '../messages.js';

export function renderLogin(root, { provider, onLogin }) {
  const input = h('input', {
    type: 'password', name: 'token', autocomplete: 'off', spellcheck: 'false', required: true,
    placeholder: 'scrm_…',
  });
  const error = h('div', { 'aria-live': 'assertive' });
  const button = h('button', { type: 'submit', class: 'primary' }, 'Log in');
  const form = h('form', { class: 'card login', 'aria-labelledby': 'login-title' },
    h('h1', { id: 'login-title' }, 'Log in'),
    provider ? h('p', null, h('a', { class: 'button primary', href: '/auth/login' }, `Sign in with ${provider}`)) : null,
    h('p', { class: 'muted' },
      'Paste an API token. The first start of the server prints an admin token; ',
      h('code', null, 'socialcrm token create --role agent --name NAME'), ' makes more.'),
    field('API token', input, 'Kept in this tab only, until you log out or close it.'),
    error,
    h('div', { class: 'actions' }, button));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.replaceChildren();
    const value = input.value.trim();
    button.disabled = true;
    try {
      // Checked before it is kept; a wrong one is reported here, not by the app's 401 handler.
      const me = await api('GET', '/me', { auth: value, handle401: false });
      setToken(value);
      onLogin(me);
    } catch (e) {
      error.append(errorBox(e, e.status === 401 ? 'This token is not valid' : 'Cannot log in'));
      input.focus();
    } finally {
      button.disabled = false;
    }
  });
  root.append(form);
  input.focus();
}
