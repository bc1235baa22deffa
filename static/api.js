// Calls to the presign API (JSON in, JSON out) and to the storage's
// presigned URLs for the small XML requests. A 429 or 503 that says when to
// come back (Retry-After) is waited out here, so callers only see it when the
// server keeps refusing; no DOM use, so this also runs in a worker.

import { s3Error } from './s3-xml.js';

/** How many Retry-After waits one call may sit through before giving up. */
const MAX_WAITS = 20;
/** The longest Retry-After honoured, in seconds; a longer one is cut to this. */
export const MAX_WAIT_SECONDS = 600;

/**
 * A refused or failed call. `code` is the API's error code (or S3's), or
 * `server` / `network` when no answer came; `transient` says a later attempt
 * may succeed; `retryAfter` is in seconds (0 when not given).
 */
export class RequestError extends Error {
  constructor(message, { status = 0, code = '', transient = false, retryAfter = 0 } = {}) {
    super(message);
    this.name = 'RequestError';
    Object.assign(this, { status, code, transient, retryAfter });
  }
}

/** The error a call ends with when its AbortSignal fires. */
export function abortError() {
  return new DOMException('Cancelled', 'AbortError');
}

/** Resolves after `ms`, or rejects with an AbortError as soon as `signal` fires. */
export function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const done = () => { signal?.removeEventListener('abort', stop); resolve(); };
    const timer = setTimeout(done, ms);
    const stop = () => { clearTimeout(timer); reject(abortError()); };
    signal?.addEventListener('abort', stop, { once: true });
  });
}

/** Retry-After in seconds (either form: seconds or an HTTP date), or 0 when absent or unreadable. */
export function retryAfterSeconds(value, now = Date.now()) {
  if (!value) return 0;
  if (/^\s*\d+\s*$/.test(value)) return Number(value);
  const date = Date.parse(value);
  return Number.isNaN(date) ? 0 : Math.max(0, Math.ceil((date - now) / 1000));
}

/**
 * `fetch` that waits out 429 and 503 answers carrying Retry-After and asks
 * again, up to MAX_WAITS times. `onWait({seconds, message})` is told before
 * each wait (`message`: the server's own words, when its body is the API's
 * JSON). Network failures reject with a RequestError (`network`).
 */
export async function fetchPatiently(url, init = {}, { onWait, maxWaits = MAX_WAITS } = {}) {
  for (let waits = 0; ; waits++) {
    let response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      if (init.signal?.aborted) throw abortError();
      throw new RequestError('The connection was lost', { code: 'network', transient: true });
    }
    const seconds = retryAfterSeconds(response.headers.get('retry-after'));
    if ((response.status !== 429 && response.status !== 503) || !seconds || waits >= maxWaits) return response;
    const body = await response.clone().json().catch(() => ({}));
    const wait = Math.min(seconds, MAX_WAIT_SECONDS);
    onWait?.({ seconds: wait, message: body.message || '' });
    // A little jitter, so many pages told the same second do not all come back at once.
    await sleep(wait * 1000 + Math.random() * 250, init.signal);
  }
}

/**
 * A client of the presign API at `endpoint` (a URL; paths resolve against it),
 * sending `headers` (e.g. an Authorization) with every call.
 */
export function apiClient(endpoint, headers = {}) {
  async function call(path, init, options) {
    let response;
    try {
      response = await fetchPatiently(new URL(path, endpoint).href, init, options);
    } catch (err) {
      if (err.code === 'network') {
        throw Object.assign(new RequestError('Could not reach the upload server', { code: 'server', transient: true }), { source: 'api' });
      }
      throw err;
    }
    if (response.ok) return response.json();
    const body = await response.json().catch(() => ({}));
    // The API's message already says what to do; nothing is added to it.
    const message = body.message || `The upload server answered ${response.status} ${response.statusText}`.trim();
    throw Object.assign(new RequestError(message, {
      status: response.status,
      code: body.error || String(response.status),
      transient: response.status === 429 || response.status >= 500,
      retryAfter: retryAfterSeconds(response.headers.get('retry-after')),
    }), { source: 'api', said: !!body.message });
  }
  return {
    /** POSTs `fields` form-encoded to `path`; resolves to the JSON answer. */
    postForm(path, fields, { signal, onWait } = {}) {
      return call(path, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams(fields),
        signal,
      }, { onWait });
    },
    /** POSTs `value` as JSON to `path`; resolves to the JSON answer. */
    postJson(path, value, { signal, onWait } = {}) {
      return call(path, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(value),
        signal,
      }, { onWait });
    },
  };
}

/** S3 error codes that a later attempt (with a freshly signed URL) may get past. */
const TRANSIENT_S3 = new Set(['SlowDown', 'InternalError', 'ServiceUnavailable', 'RequestTimeout', 'ExpiredToken']);

/**
 * The RequestError for a storage answer that was not a success: S3's
 * `<Error><Code/><Message/></Error>` when the body is one. An expired link
 * (`AccessDenied` "Request has expired") gets `expired: true` and is
 * transient, as a re-signed URL fixes it.
 */
export function storageError(status, body, retryAfter = '') {
  const { code = '', message: detail = '' } = s3Error(body || '') ?? {};
  const expired = code === 'AccessDenied' && /expired/i.test(detail);
  const message = code ? `${detail || code} (${code})` : `The storage answered ${status}`;
  return Object.assign(new RequestError(message, {
    status,
    code,
    transient: status >= 500 || status === 429 || expired || TRANSIENT_S3.has(code),
    retryAfter: retryAfterSeconds(retryAfter),
  }), { source: 'storage', expired, detail });
}
