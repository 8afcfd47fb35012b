// Everything the web app says to the server goes through here: the session (wallet tokens
// or the admin API key), the Authorization header, one silent refresh on an expired access
// token, the JSON error envelope turned into ApiError, and Server-Sent Events read with
// fetch (EventSource cannot send an Authorization header, and private videos need one).

const SESSION_KEY = 'streamgate.session';
const API_KEY_KEY = 'streamgate.api_key';
// Refresh this long before the access token expires, so a request never races the expiry.
const REFRESH_MARGIN_MS = 30_000;
// Bound of the unparsed part of an event stream (see events()).
const MAX_EVENT_LINE = 1 << 20;

export class ApiError extends Error {
  constructor(status, code, message, details = null, requestId = '') {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }
}

const listeners = new Set();

/// Calls `fn(user)` whenever who is signed in changes (in this tab or another one).
export function onSessionChange(fn) {
  if (lastIdentity === null) {
    const user = currentUser();
    lastIdentity = user ? `${user.kind}:${user.id}:${user.roles.join(',')}` : '';
  }
  listeners.add(fn);
  return () => listeners.delete(fn);
}

let lastIdentity = null;

// Listeners hear of sign-in, sign-out and a different account, not of token refreshes
// (which another tab's refresh would otherwise turn into a reload of this tab's page).
function notify() {
  const user = currentUser();
  const identity = user ? `${user.kind}:${user.id}:${user.roles.join(',')}` : '';
  if (identity === lastIdentity) return;
  lastIdentity = identity;
  for (const fn of listeners) fn(user);
}

// Another tab signed in or out: follow it.
window.addEventListener('storage', (event) => {
  if (event.key === SESSION_KEY || event.key === null) notify();
});

function readSession() {
  try {
    const value = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    return value && typeof value === 'object' && value.refresh_token ? value : null;
  } catch {
    return null;
  }
}

function writeSession(value) {
  if (value) localStorage.setItem(SESSION_KEY, JSON.stringify(value));
  else localStorage.removeItem(SESSION_KEY);
}

function apiKey() {
  return sessionStorage.getItem(API_KEY_KEY) || '';
}

/// Who is signed in: {kind: 'wallet', address, id, roles}, {kind: 'api_key', id: 'admin',
/// roles: ['admin']}, or null.
export function currentUser() {
  if (apiKey()) return { kind: 'api_key', id: 'admin', address: '', roles: ['admin'] };
  const s = readSession();
  if (!s) return null;
  return { kind: 'wallet', id: s.subject, address: s.address, roles: s.roles || [] };
}

export function hasRole(user, role) {
  return Boolean(user && user.roles.includes(role));
}

/// May `user` change `content`? The server decides; this only hides controls it would refuse.
export function mayManage(user, content) {
  return Boolean(user && (hasRole(user, 'admin') || user.id === content.owner));
}

// The authoritative copy of the session for refreshing, in IndexedDB. localStorage is what
// pages read synchronously, but Chromium propagates a localStorage write to other tabs
// asynchronously: a tab that takes the refresh lock right after another released it can
// still read the refresh token that was just rotated away, and using it twice revokes the
// sign-in (found by tests/e2e/webapp.mjs). IndexedDB transactions are consistent across
// tabs, so the refresh reads and writes the token there, under the lock.
const DB_NAME = 'streamgate';
let dbPromise = null;
function db() {
  if (!window.indexedDB) return Promise.reject(new Error('no IndexedDB'));
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const open = indexedDB.open(DB_NAME, 1);
      open.onupgradeneeded = () => open.result.createObjectStore('kv');
      open.onsuccess = () => resolve(open.result);
      open.onerror = () => reject(open.error);
    });
  }
  return dbPromise;
}
async function durable(mode, fn) {
  const handle = await db();
  return new Promise((resolve, reject) => {
    const tx = handle.transaction('kv', mode);
    const request = fn(tx.objectStore('kv'));
    tx.oncomplete = () => resolve(request.result);
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error);
  });
}
const readDurableSession = () => durable('readonly', (kv) => kv.get(SESSION_KEY)).catch(() => undefined);
const writeDurableSession = (value) => durable('readwrite', (kv) =>
  (value ? kv.put(value, SESSION_KEY) : kv.delete(SESSION_KEY))).catch(() => undefined);

async function storeTokens(tokens) {
  const session = {
    access_token: tokens.access_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    refresh_token: tokens.refresh_token,
    subject: tokens.subject,
    address: tokens.address,
    roles: tokens.roles,
  };
  writeSession(session);
  await writeDurableSession(session);
  return session;
}

/// After POST /auth/verify.
export async function signedIn(tokens) {
  sessionStorage.removeItem(API_KEY_KEY);
  await storeTokens(tokens);
  notify();
}

/// Admins: use the API key for this tab only (sessionStorage), after checking it.
export async function useApiKey(key) {
  const reply = await fetch('/api/v1/auth/me', { headers: { Authorization: `Bearer ${key}` } });
  if (!reply.ok) throw await errorOf(reply);
  const me = await reply.json();
  if (!me.roles.includes('admin')) throw new ApiError(403, 'permission_denied', 'not an API key');
  sessionStorage.setItem(API_KEY_KEY, key);
  notify();
}

export async function signOut() {
  const s = readSession();
  sessionStorage.removeItem(API_KEY_KEY);
  writeSession(null);
  await writeDurableSession(null);
  notify();
  if (s) {
    // Revokes the refresh token family; the access token lives out its few minutes.
    await fetch('/api/v1/auth/logout', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: s.refresh_token }),
    }).catch(() => {});
  }
}

let refreshing = null;

// Rotates the refresh token. Tabs share one session, and a refresh token used twice revokes
// the whole sign-in, so tabs take turns (Web Locks where available) and a tab that finds the
// token already rotated by another (in IndexedDB, see above) simply uses the result.
async function refresh(seen) {
  const run = async () => {
    const durableNow = await readDurableSession();
    const now = durableNow === undefined ? readSession() : durableNow;
    if (!now) return null;
    if (now.refresh_token !== seen.refresh_token && now.expires_at - REFRESH_MARGIN_MS > Date.now()) {
      writeSession(now);
      return now;
    }
    const reply = await fetch('/api/v1/auth/refresh', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: now.refresh_token }),
    });
    if (reply.status === 401) {
      writeSession(null);
      await writeDurableSession(null);
      notify();
      return null;
    }
    if (!reply.ok) throw await errorOf(reply);
    return storeTokens(await reply.json());
  };
  if (!refreshing) {
    refreshing = (navigator.locks ? navigator.locks.request('streamgate-refresh', run) : run())
      .finally(() => { refreshing = null; });
  }
  return refreshing;
}

/// The Authorization header value for the current user, refreshing first if needed; '' when
/// nobody is signed in.
export async function authorization({ forceRefresh = false } = {}) {
  const key = apiKey();
  if (key) return `Bearer ${key}`;
  let s = readSession();
  if (!s) return '';
  if (forceRefresh || s.expires_at - REFRESH_MARGIN_MS <= Date.now()) {
    s = await refresh(s);
    if (!s) return '';
  }
  return `Bearer ${s.access_token}`;
}

async function errorOf(reply) {
  let body = null;
  try {
    body = await reply.json();
  } catch {
    // not JSON (a proxy's page): fall through
  }
  const e = body && body.error;
  if (e) return new ApiError(reply.status, e.code, e.message, e.details || null, e.request_id || '');
  return new ApiError(reply.status, 'http_' + reply.status, `${reply.status} ${reply.statusText}`);
}

/// fetch with the session's Authorization; one retry after a refresh when a token expired
/// early (server restarted with new keys, clock drift).
export async function send(path, options = {}) {
  const attempt = async (forceRefresh) => {
    const headers = new Headers(options.headers || {});
    const auth = options.anonymous ? '' : await authorization({ forceRefresh });
    if (auth) headers.set('Authorization', auth);
    return fetch(path, { ...options, headers });
  };
  let reply = await attempt(false);
  if (reply.status === 401 && !options.anonymous && readSession() && !apiKey()) {
    reply = await attempt(true);
  }
  return reply;
}

/// JSON in, JSON out; throws ApiError with the server's message on any non-2xx.
export async function api(path, { method = 'GET', body, signal, anonymous = false } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const reply = await send(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    anonymous,
  });
  if (!reply.ok) throw await errorOf(reply);
  if (reply.status === 204) return null;
  return reply.json();
}

/// Reads a Server-Sent Events stream, calling onEvent({event, data}) per event, and
/// reconnecting (after the server's `retry:` or 3 s) until `signal` aborts or onEvent
/// returns true ("done").
export async function events(path, onEvent, signal) {
  let retryMs = 3000;
  while (!signal.aborted) {
    try {
      const reply = await send(path, { headers: { Accept: 'text/event-stream' }, signal });
      if (!reply.ok) throw await errorOf(reply);
      const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      let frame = { event: 'message', data: [] };
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        // Our server's events are a few hundred bytes; a line this long is not SSE.
        if (buffer.length > MAX_EVENT_LINE) throw new Error('event stream line too long');
        let newline;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + (buffer.startsWith('\r\n', newline) ? 2 : 1));
          if (line === '') {
            if (frame.data.length) {
              let data = frame.data.join('\n');
              try {
                data = JSON.parse(data);
              } catch {
                // plain text data stays a string
              }
              if (onEvent({ event: frame.event, data })) {
                reader.cancel().catch(() => {});
                return;
              }
            }
            frame = { event: 'message', data: [] };
          } else if (!line.startsWith(':')) {
            const colon = line.indexOf(':');
            const field = colon < 0 ? line : line.slice(0, colon);
            const text = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (field === 'event') frame.event = text;
            else if (field === 'data') frame.data.push(text);
            else if (field === 'retry' && /^\d+$/.test(text)) retryMs = Number(text);
          }
        }
      }
    } catch (error) {
      if (signal.aborted) return;
      if (error instanceof ApiError && error.status >= 400 && error.status < 500) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(retryMs, 10_000)));
  }
}
