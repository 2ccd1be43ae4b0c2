// A small client of the Boxoffice API: JSON in and out, problems as
// ApiError, Retry-After honoured by the callers through retryAfter.

export class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super(problem.detail || problem.title || 'HTTP ' + status);
    this.status = status;
    this.code = problem.code || (status === 0 ? 'NETWORK' : 'INTERNAL');
    this.detail = problem.detail || '';
    this.position = problem.position;
    this.errors = problem.errors || [];
    this.retryAfter = retryAfter; // seconds, or 0
  }
}

// busy reports whether err asks the client to come back later.
export function busy(err) {
  return err instanceof ApiError && (err.status === 429 || err.status === 503 || err.status === 0);
}

// retryDelay is how long to wait before trying again after err: the
// server's Retry-After, or a backoff that grows with attempt, with jitter so
// that many clients do not come back at the same instant.
export function retryDelay(err, attempt = 0) {
  const base = err && err.retryAfter > 0 ? err.retryAfter : Math.min(30, 2 ** Math.min(attempt, 5));
  return Math.round(base * 1000 * (1 + Math.random() * 0.5));
}

export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// newKey is a fresh Idempotency-Key.
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

// request sends one request. opts: body, auth (bearer), queueToken,
// headers, signal.
export async function request(method, path, opts = {}) {
  const headers = { Accept: 'application/json', ...(opts.headers || {}) };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.auth) headers.Authorization = 'Bearer ' + opts.auth;
  if (opts.queueToken) headers['Queue-Token'] = opts.queueToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
      cache: 'no-store',
    });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new ApiError(0, { code: 'NETWORK', detail: String(e && e.message) }, 0);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    const ra = parseInt(res.headers.get('Retry-After') || '0', 10) || 0;
    throw new ApiError(res.status, body && typeof body === 'object' ? body : { detail: text.slice(0, 200) }, ra);
  }
  return body;
}
