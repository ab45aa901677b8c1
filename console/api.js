// api.js: every call the console makes to the server.
//
// Each data call carries the signed-in user's token (Authorization: Bearer),
// so the server checks it exactly as it checks any API client: roles,
// merchant tenancy and PII masking are the server's, never the page's.

const TOKEN_KEY = 'aftersale.console.token';

export const session = {
  token: sessionStorage.getItem(TOKEN_KEY),
  me: null, // {role, merchant_id, agent_id} from GET /v1/me
};

// Endpoints the console calls that a server may not have (an older build, or
// one another team is building): it shows "not available on this server"
// while the server answers 404 (docs/console.md).
export const PENDING = {
  versions: '/v1/admin/policies/versions',
  version: (v) => `/v1/admin/policies/versions/${encodeURIComponent(v)}`,
  activate: '/v1/admin/policies/activate',
  rollback: '/v1/admin/policies/rollback',
  nextCase: (agentId) => `/v1/agents/${encodeURIComponent(agentId)}/next`,
};

export class ApiError extends Error {
  constructor(status, body, fallback) {
    const e = (body && body.error) || {};
    super(e.message || fallback || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || (status ? 'http_' + status : 'network_error');
    this.details = e;
  }

  // 404 from a route the server does not have (or a record it does not have:
  // the callers that use this ask for routes).
  get notAvailable() {
    return this.status === 404;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function setToken(token) {
  session.token = token;
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// api('GET', '/v1/cases', {query: {status: 'open'}}) answers the parsed JSON
// or throws an ApiError. A 401 signs the user out (the token is gone or
// wrong); every other error is the caller's to show.
export async function api(method, path, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (opts.token !== null) headers.Authorization = 'Bearer ' + (opts.token || session.token);
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  let res;
  try {
    res = await fetch(path + query(opts.query), {
      method,
      headers,
      body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
      cache: 'no-store',
      credentials: 'omit',
    });
  } catch (e) {
    throw new ApiError(0, null, 'the server could not be reached (' + e.message + ')');
  }
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    const err = new ApiError(res.status, json);
    if (res.status === 401 && opts.token === undefined) onUnauthorized(err);
    throw err;
  }
  return json;
}

export const get = (path, q) => api('GET', path, { query: q });
export const post = (path, body, opts = {}) => api('POST', path, { ...opts, body });

// A fresh Idempotency-Key. crypto.getRandomValues works on plain http too
// (randomUUID needs a secure context).
export function newIdempotencyKey() {
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return 'console-' + Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// Every page of a case list, up to `max` cases: the server hands out a cursor
// while there is more (a page may come back short when its scan budget ran out).
export async function listAll(path, q, max = 1000) {
  const out = [];
  let cursor = null;
  do {
    const page = await get(path, { ...q, limit: 200, cursor });
    out.push(...(page.cases || []));
    cursor = page.next_cursor;
  } while (cursor && out.length < max);
  return { cases: out.slice(0, max), truncated: Boolean(cursor) || out.length > max };
}

// The server's clock. With --clock manual it is not the browser's, so SLA
// countdowns go by the server: /healthz tells its time (public, no token).
const clock = { offset: 0, at: 0 };
export async function syncClock() {
  try {
    const r = await api('GET', '/healthz', { token: null });
    clock.offset = r.now - Date.now() / 1000;
    clock.at = Date.now();
  } catch {
    // keep the last offset; the countdowns stay close enough
  }
}
export function serverNow() {
  return Math.floor(Date.now() / 1000 + clock.offset);
}
