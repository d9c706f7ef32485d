// The JSON API client: bearer token from sessionStorage (gone when the tab
// closes), or the single sign-on session's cookie with its CSRF token on
// every request that changes state; the API's error body turned into an
// ApiError, 401 handed to the app.

const TOKEN_KEY = 'socialcrm.token';
const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

// The CSRF token of the single sign-on session, when signed in that way.
let csrf = null;

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details ?? null;
  }
}

let onUnauthorized = () => {};

/** What to do when the API says the token is not (or no longer) valid. */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/**
 * Single sign-on: `{provider, name, role, csrf}` from `/auth/session`
 * (provider null when it is off; name null when not signed in).
 */
export async function ssoSession() {
  try {
    const response = await fetch('/auth/session', { headers: { Accept: 'application/json' } });
    const info = response.ok ? await response.json() : {};
    csrf = info.csrf || null;
    return info;
  } catch {
    return {};
  }
}

/** Whether requests go with the single sign-on session. */
export function inSession() {
  return Boolean(csrf) && !token();
}

/** Ends the single sign-on session. */
export async function signOut() {
  const headers = csrf ? { 'X-CSRF-Token': csrf } : {};
  csrf = null;
  await fetch('/auth/logout', { method: 'POST', headers }).catch(() => {});
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const text = q.toString();
  return text ? `?${text}` : '';
}

/**
 * Calls `/api/v1{path}`. `body` is sent as JSON, or as raw bytes when it is a
 * Blob or ArrayBuffer (plugin packages). Resolves to the parsed answer (null
 * for 204), or with `blob` to the answer's bytes (a download); rejects with
 * an ApiError, after the app's 401 handler unless `handle401` is false.
 */
export async function api(method, path, { body, params, auth = token(), handle401 = true, blob = false } = {}) {
  const headers = { Accept: blob ? '*/*' : 'application/json' };
  if (auth) headers.Authorization = `Bearer ${auth}`;
  else if (csrf && !SAFE.has(method)) headers['X-CSRF-Token'] = csrf;
  let payload;
  if (body instanceof Blob || body instanceof ArrayBuffer) {
    headers['Content-Type'] = 'application/octet-stream';
    payload = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(`/api/v1${path}${query(params)}`, { method, headers, body: payload });
  } catch (e) {
    throw new ApiError(0, 'network', `The server cannot be reached (${e.message}).`);
  }
  if (response.status === 204) return null;
  if (blob && response.ok) return response.blob();
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const e = data && data.error;
    const error = e
      ? new ApiError(response.status, e.code, e.message, e.details)
      : new ApiError(response.status, `http-${response.status}`, text.trim() || response.statusText);
    if (response.status === 401 && handle401) onUnauthorized(error);
    throw error;
  }
  return data;
}

export const get = (path, params) => api('GET', path, { params });
export const post = (path, body) => api('POST', path, { body });
export const del = (path) => api('DELETE', path);

/** Saves the answer of GET `path` as the file `filename`. */
export async function download(path, params, filename) {
  const bytes = await api('GET', path, { params, blob: true });
  const url = URL.createObjectURL(bytes);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The items of a list answer (`{"items": [...], "next_cursor": ...}`). */
export function items(answer) {
  return (answer && answer.items) || [];
}
