// Messages for the user: a polite live region at the top of the page for
// outcomes, and inline error boxes that carry the API's code and details.

import { h } from './dom.js';

const region = () => document.getElementById('messages');

/** The text of an API error, with what its details add. */
function describe(error) {
  if (!(error instanceof Error)) return String(error);
  return error.message || error.code || 'Something went wrong.';
}

function detailsOf(error) {
  const details = error && error.details;
  if (details === null || details === undefined) return null;
  const text = typeof details === 'string' ? details : JSON.stringify(details, null, 2);
  return h('details', { class: 'error-details' }, h('summary', null, 'Details'), h('pre', null, text));
}

/** An inline error (role=alert so it is read at once). */
export function errorBox(error, context) {
  const code = error && error.code ? ` (${error.code})` : '';
  return h('div', { class: 'alert alert-error', role: 'alert' },
    h('strong', null, context ? `${context}: ` : 'Error: '),
    describe(error),
    h('span', { class: 'muted' }, code),
    detailsOf(error));
}

/** Shows a message at the top; errors stay until dismissed, the rest fade. */
export function notify(message, kind = 'info') {
  const error = kind === 'error';
  const box = h('div', { class: ['alert', `alert-${kind}`], role: error ? 'alert' : null },
    h('span', null, error ? errorText(message) : String(message)),
    error ? detailsOf(message) : null,
    h('button', { type: 'button', class: 'dismiss', 'aria-label': 'Dismiss message', onClick: () => box.remove() }, '×'));
  region().append(box);
  // A few at most: older ones give way rather than cover the page.
  while (region().children.length > 3) region().firstElementChild.remove();
  if (!error) setTimeout(() => box.remove(), 6000);
  return box;
}

function errorText(e) {
  if (!(e instanceof Error)) return String(e);
  return e.code ? `${describe(e)} (${e.code})` : describe(e);
}

export function clearMessages() {
  region().replaceChildren();
}

/**
 * Runs an action from a button: disables it meanwhile, reports success and
 * failure. Resolves to the action's result, or undefined after a failure.
 */
export async function act(button, action, success) {
  if (button) button.disabled = true;
  try {
    const result = await action();
    if (success) notify(typeof success === 'function' ? success(result) : success, 'success');
    return result;
  } catch (e) {
    if (e.status !== 401) notify(e, 'error');
    return undefined;
  } finally {
    if (button && button.isConnected) button.disabled = false;
  }
}
