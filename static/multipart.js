// One file uploaded as an S3 multipart upload through presigned URLs only
// (the server signs, the browser talks to the storage): create, parts signed
// in batches just before they are sent, up to PART_LIMIT parts in parallel,
// each retried on its own with back-off and a fresh URL (URLs expire), then
// complete; pause keeps what was sent, cancel aborts the upload at the storage.
// After a reload, a saved record (see resume.js) and the same file continue
// it: ListParts tells which parts are there already. No DOM use: part bytes
// go with XMLHttpRequest, which reports upload progress (fetch does not).

import { MAX_WAIT_SECONDS, RequestError, abortError, fetchPatiently, sleep, storageError } from './api.js';
import { completeBody, listPartsPage, rootName, uploadIdOf } from './s3-xml.js';

/** Parts in flight at once for one file. */
export const PART_LIMIT = 4;
/** Waits before each automatic retry of a part or a request, in ms (then it fails). */
export const RETRY_DELAYS = [1000, 2000, 4000, 8000, 16000];
/** Part numbers per signing request: the API's own limit. */
const MAX_SIGN_BATCH = 100;
/** A part PUT with no progress for this long is cut and retried (a stalled connection). */
export const STALL_MS = 60_000;

/** Resolves at once when the browser thinks it is online, else at its next `online` event. */
function whenOnline(signal) {
  if (globalThis.navigator?.onLine !== false) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => { signal.removeEventListener('abort', stop); resolve(); };
    const stop = () => { globalThis.removeEventListener('online', done); reject(abortError()); };
    globalThis.addEventListener('online', done, { once: true });
    signal.addEventListener('abort', stop, { once: true });
  });
}

/** The fields of a record that identify the file it belongs to. */
export function fileIdentity(file) {
  return { name: file.name, size: file.size, lastModified: file.lastModified, type: file.type };
}

/**
 * A multipart upload of `file` through the API `client` (see api.js).
 * `record`, when given, is a saved unfinished upload of this file to go on
 * with. `identity` names the file in the record (default: `file`'s own name,
 * size, last-modified time and type; the file as picked, when `file` is a
 * resized copy of it). Callbacks: `onProgress(bytes)` (sent so far, across parts),
 * `onStatus(text)` (a wait or retry worth showing, '' when it is over),
 * `onRecord(record | null, uploadId)` (save this to resume later / forget
 * the record of `uploadId`: done or aborted).
 */
export class MultipartUpload {
  #upload = null;   // { key, ticket, uploadId, partSize, partCount, viewUrl, expiresAt }
  #parts = [];      // { number, start, size, etag, loaded, url, method, signedAt, life, batch, busy }
  #needsListing = false;
  #controller = null;
  #running = null;
  #cancelled = false;
  #signing = null;  // the part-signing request on its way, shared by the workers
  #signSeq = 0;
  #lifeMs = 0;      // how long the last part URLs were valid for
  #rate = { bytes: 0, since: 0 };
  #completeUnanswered = false;  // a complete got no answer: it may have completed the upload

  constructor(file, client, { record = null, identity = null, limit = PART_LIMIT, retryDelays = RETRY_DELAYS, onProgress, onStatus, onRecord } = {}) {
    Object.assign(this, { file, client, limit, retryDelays });
    this.identity = identity ?? fileIdentity(file);
    this.onProgress = onProgress ?? (() => {});
    this.onStatus = onStatus ?? (() => {});
    this.onRecord = onRecord ?? (() => {});
    if (record) {
      this.#upload = { ...record };
      this.#makeParts();
      this.#needsListing = true;
    }
  }

  /** The object's key, once the upload exists. */
  get key() { return this.#upload?.key ?? ''; }
  /** A presigned GET of the finished object. */
  get viewUrl() { return this.#upload?.viewUrl ?? ''; }
  /** Bytes sent so far, counting finished parts whole and parts in flight as far as they got. */
  get loaded() { return this.#parts.reduce((sum, p) => sum + (p.etag ? p.size : p.loaded), 0); }
  /** Parts on the storage already (sent, or found by ListParts). */
  get partsDone() { return this.#parts.filter(p => p.etag).length; }
  /** Parts in all. */
  get partCount() { return this.#parts.length; }

  /** What resume.js keeps to continue after a reload. */
  get record() {
    const { key, ticket, uploadId, partSize, partCount, viewUrl, expiresAt } = this.#upload;
    return { ...this.identity, uploadSize: this.file.size, key, ticket, uploadId, partSize, partCount, viewUrl, expiresAt };
  }

  /**
   * One run, until the object is complete (resolves to `{key, viewUrl}`),
   * a failure that retries did not get past (rejects with a RequestError;
   * the parts sent stay, so running again continues), or pause()/cancel()
   * (rejects with an AbortError).
   */
  run() {
    if (this.#running) return this.#running;
    if (this.#cancelled) return Promise.reject(abortError());
    const controller = (this.#controller = new AbortController());
    this.#running = this.#go(controller.signal).finally(() => {
      this.#controller = null;
      this.#running = null;
    });
    return this.#running;
  }

  /** Stops sending; parts already stored are kept, and run() goes on from there. */
  pause() {
    this.#controller?.abort(abortError());
  }

  /**
   * Stops sending and aborts the upload at the storage, so its parts are
   * deleted; resolves once that is done (rejects if the abort itself failed).
   */
  async cancel() {
    this.#cancelled = true;
    this.#controller?.abort(abortError());
    await this.#running?.catch(() => {});
    if (!this.#upload) return;
    const signal = new AbortController().signal;
    await this.#retrying(async () => {
      const signed = await this.client.postForm('/api/multipart/abort', this.#ticketFields(), { onWait: this.#onWait });
      const response = await fetchPatiently(signed.url, { method: signed.method || 'DELETE', headers: signed.headers }, { onWait: this.#onWait });
      // 404 NoSuchUpload: gone already (aborted or completed before).
      if (!response.ok && response.status !== 404) {
        throw storageError(response.status, await response.text(), response.headers.get('retry-after'));
      }
    }, signal);
    this.onRecord(null, this.#upload.uploadId);
  }

  async #go(signal) {
    if (!this.#upload) await this.#create(signal);
    if (this.#needsListing) await this.#listStored(signal);
    this.#rate = { bytes: 0, since: Date.now() };
    await this.#sendParts(signal);
    const done = await this.#complete(signal);
    this.onRecord(null, this.#upload.uploadId);
    return done;
  }

  #onWait = ({ seconds, message }) => {
    this.onStatus(`${message || 'The server is busy.'} Continuing in ${seconds} s…`.trim());
  };

  #ticketFields() {
    const { key, ticket, uploadId } = this.#upload;
    return { key, ticket, uploadId };
  }

  // Calls `attempt` until it succeeds, a failure is final, or the retries are used up.
  async #retrying(attempt, signal) {
    for (let tries = 0; ; tries++) {
      try {
        const result = await attempt();
        if (tries) this.onStatus('');
        return result;
      } catch (err) {
        if (signal.aborted) throw abortError();
        if (await this.#waitedForNetwork(err, signal)) {
          tries--;
          continue;
        }
        if (!err.transient || tries >= this.retryDelays.length) throw err;
        const delay = err.retryAfter ? Math.min(err.retryAfter, MAX_WAIT_SECONDS) * 1000 : this.retryDelays[tries] * (0.75 + Math.random() / 2);
        this.onStatus(`${err.message}; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
        await sleep(delay, signal);
      }
    }
  }

  // Offline (a tunnel, a dead zone): a failure is not counted as a try; the
  // network is waited for instead. Returns whether it waited.
  async #waitedForNetwork(err, signal) {
    if (!err.transient || globalThis.navigator?.onLine !== false) return false;
    this.onStatus('Offline: the upload goes on when the connection is back');
    await whenOnline(signal);
    this.onStatus('');
    return true;
  }

  async #create(signal) {
    const { name, type, size } = this.file;
    const created = await this.#retrying(
      () => this.client.postForm('/api/multipart', { filename: name, type, size: String(size) }, { signal, onWait: this.#onWait }),
      signal,
    );
    // Not aborted by pause or cancel: once S3 may have made the upload, its id
    // must come back, so that cancel can abort it.
    const uploadId = await this.#retrying(async () => {
      const { method = 'POST', url, headers = {} } = created.create;
      const response = await fetchPatiently(url, { method, headers }, { onWait: this.#onWait });
      const text = await response.text();
      if (!response.ok) throw storageError(response.status, text, response.headers.get('retry-after'));
      const id = uploadIdOf(text);
      if (!id) throw new RequestError('The storage gave no upload id when the upload was created', { code: 'InvalidResponse' });
      return id;
    }, new AbortController().signal);
    const { key, ticket, partSize, partCount, viewUrl, expiresAt } = created;
    this.#upload = { key, ticket, uploadId, partSize, partCount, viewUrl, expiresAt };
    this.#makeParts();
    this.onRecord(this.record, uploadId);
    if (signal.aborted) throw abortError();
  }

  #makeParts() {
    const { partSize, partCount } = this.#upload;
    this.#parts = Array.from({ length: partCount }, (_, i) => ({
      number: i + 1,
      start: i * partSize,
      size: Math.min(partSize, this.file.size - i * partSize),
      etag: '',
      loaded: 0,
      url: '',
      method: 'PUT',
      signedAt: 0,
      life: 0,
      batch: 0,
      busy: false,
    }));
  }

  // ListParts, every page: the parts the storage holds with the right size are not sent again.
  async #listStored(signal) {
    const stored = new Map();
    let marker = '';
    do {
      const page = await this.#retrying(async () => {
        const fields = { ...this.#ticketFields(), ...(marker ? { marker } : {}) };
        const signed = await this.client.postForm('/api/multipart/list', fields, { signal, onWait: this.#onWait });
        const response = await fetchPatiently(signed.url, { method: signed.method || 'GET', headers: signed.headers, signal }, { onWait: this.#onWait });
        const text = await response.text();
        if (!response.ok) throw storageError(response.status, text, response.headers.get('retry-after'));
        const listed = listPartsPage(text);
        if (!listed) throw new RequestError('The storage did not list the parts of the upload', { code: 'InvalidResponse' });
        return listed;
      }, signal);
      for (const part of page.parts) stored.set(part.partNumber, part);
      // A marker that does not move on would list the same page forever.
      marker = Number(page.next) > Number(marker || 0) ? page.next : '';
    } while (marker);
    for (const part of this.#parts) {
      const found = stored.get(part.number);
      if (found?.etag && found.size === part.size) part.etag = found.etag;
    }
    this.#needsListing = false;
    this.onProgress(this.loaded);
  }

  async #sendParts(signal) {
    // A part that fails for good stops the others: they would only be thrown away.
    const stop = new AbortController();
    const both = AbortSignal.any([signal, stop.signal]);
    const worker = async () => {
      for (;;) {
        if (both.aborted) throw abortError();
        const part = this.#parts.find(p => !p.etag && !p.busy);
        if (!part) return;
        part.busy = true;
        try {
          await this.#sendPart(part, both);
        } catch (err) {
          stop.abort(err);
          throw err;
        } finally {
          part.busy = false;
        }
      }
    };
    const results = await Promise.allSettled(Array.from({ length: this.limit }, worker));
    if (signal.aborted) throw abortError();
    const failed = results.find(r => r.status === 'rejected' && r.reason?.name !== 'AbortError');
    if (failed) throw failed.reason;
    if (results.some(r => r.status === 'rejected')) throw abortError();
  }

  async #sendPart(part, signal) {
    for (let tries = 0; ; tries++) {
      try {
        const url = await this.#urlFor(part, signal);
        part.etag = await this.#put(part, url, signal);
        this.#rate.bytes += part.size;
        if (tries) this.onStatus('');
        this.onProgress(this.loaded);
        return;
      } catch (err) {
        part.loaded = 0;
        part.url = '';  // a retry is signed afresh: the URL may be what failed (expired)
        this.onProgress(this.loaded);
        if (signal.aborted) throw abortError();
        if (await this.#waitedForNetwork(err, signal)) {
          tries--;
          continue;
        }
        if (!err.transient || tries >= this.retryDelays.length) throw err;
        const delay = err.retryAfter ? Math.min(err.retryAfter, MAX_WAIT_SECONDS) * 1000 : this.retryDelays[tries] * (0.75 + Math.random() / 2);
        this.onStatus(`Part ${part.number}: ${err.message}; retrying in ${Math.max(1, Math.round(delay / 1000))} s`);
        await sleep(delay, signal);
      }
    }
  }

  // A URL for `part`: one signed earlier and still in the first half of its
  // life, or from a new signing request that also covers the parts due next.
  async #urlFor(part, signal) {
    for (;;) {
      if (part.url && Date.now() - part.signedAt < part.life / 2) return part.url;
      if (!this.#signing) break;
      const batch = this.#signSeq;
      await this.#signing;  // a failed request fails every part waiting for it
      if (signal.aborted) throw abortError();
      if (part.url && part.batch === batch) return part.url;  // signed just now for it
    }
    const due = this.#parts.filter(p => p !== part && !p.etag && !p.busy && !p.url);
    const numbers = [part, ...due].slice(0, this.#batchSize()).map(p => p.number);
    const batch = ++this.#signSeq;
    this.#signing = this.#signParts(numbers, batch, signal);
    try {
      await this.#signing;
    } finally {
      this.#signing = null;
    }
    if (!part.url) throw new RequestError(`The server signed no URL for part ${part.number}`, { code: 'InvalidResponse' });
    return part.url;
  }

  async #signParts(numbers, batch, signal) {
    const signedAt = Date.now();
    const signed = await this.#retrying(
      () => this.client.postForm('/api/multipart/parts', { ...this.#ticketFields(), parts: numbers.join(',') }, { signal, onWait: this.#onWait }),
      signal,
    );
    const expires = Date.parse(signed.expiresAt);
    this.#lifeMs = Number.isNaN(expires) ? 60_000 : Math.max(1000, expires - signedAt);
    for (const answer of signed.parts) {
      const part = this.#parts[answer.partNumber - 1];
      if (!part) continue;
      Object.assign(part, { url: answer.url, method: answer.method || 'PUT', signedAt, life: this.#lifeMs, batch });
    }
  }

  // Enough parts for about half a URL's life at the speed seen so far.
  #batchSize() {
    const elapsed = Date.now() - this.#rate.since;
    const partSize = this.#upload.partSize;
    if (!this.#rate.bytes || !this.#lifeMs || elapsed <= 0) return this.limit * 2;
    const parts = Math.floor(((this.#rate.bytes / elapsed) * (this.#lifeMs / 2)) / partSize);
    return Math.max(this.limit, Math.min(MAX_SIGN_BATCH, parts));
  }

  #put(part, url, signal) {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      const xhr = new XMLHttpRequest();
      const stop = () => xhr.abort();
      signal.addEventListener('abort', stop, { once: true });
      // A connection that stops moving without failing is cut, so the part is sent again.
      let moved = Date.now();
      let stalled = false;
      const watchdog = setInterval(() => {
        if (Date.now() - moved < STALL_MS) return;
        stalled = true;
        xhr.abort();
      }, Math.min(5_000, STALL_MS));
      const settle = (fn, value) => {
        clearInterval(watchdog);
        signal.removeEventListener('abort', stop);
        fn(value);
      };
      xhr.open(part.method || 'PUT', url);
      xhr.upload.addEventListener('progress', e => {
        moved = Date.now();
        part.loaded = Math.min(e.loaded, part.size);
        this.onProgress(this.loaded);
      });
      xhr.addEventListener('load', () => {
        if (xhr.status < 200 || xhr.status >= 300) {
          return settle(reject, storageError(xhr.status, xhr.responseText, xhr.getResponseHeader('retry-after')));
        }
        const etag = xhr.getResponseHeader('etag');
        if (etag) return settle(resolve, etag);
        // The part is stored but its ETag is hidden: the bucket's CORS rule lacks ExposeHeaders ETag.
        settle(reject, new RequestError('The storage did not let the page read the part’s ETag', { code: 'cors' }));
      });
      xhr.addEventListener('error', () => settle(reject, Object.assign(
        new RequestError('The connection was lost', { code: 'network', transient: true }), { url },
      )));
      xhr.addEventListener('abort', () => settle(reject, stalled
        ? new RequestError('The connection stalled', { code: 'network', transient: true })
        : abortError()));
      xhr.send(this.file.slice(part.start, part.start + part.size));
    });
  }

  async #complete(signal) {
    return this.#retrying(async () => {
      const signed = await this.client.postForm('/api/multipart/complete', this.#ticketFields(), { signal, onWait: this.#onWait });
      const body = completeBody(this.#parts.map(p => ({ partNumber: p.number, etag: p.etag })));
      let response;
      try {
        response = await fetchPatiently(signed.url, {
          method: signed.method || 'POST',
          headers: { ...signed.headers, 'content-type': 'application/xml' },
          body,
          signal,
        }, { onWait: this.#onWait });
      } catch (err) {
        // No answer (a cut, or a pause meanwhile): the upload may be complete all the same.
        this.#completeUnanswered ||= err.code === 'network' || err.name === 'AbortError';
        throw err;
      }
      const text = await response.text();
      // S3 may answer 200 and then an <Error>: only this root means success.
      if (response.ok && rootName(text) === 'CompleteMultipartUploadResult') return this.#done();
      const err = response.ok && rootName(text) !== 'Error'
        ? new RequestError('The storage gave an unexpected answer to completing the upload', { status: response.status, code: 'InvalidResponse' })
        : storageError(response.status, text, response.headers.get('retry-after'));
      // A repeated complete of an upload that did complete: the object is there, with our size.
      if (this.#completeUnanswered && ['PreconditionFailed', 'NoSuchUpload'].includes(err.code) && await this.#arrived(signal)) return this.#done();
      throw err;
    }, signal);
  }

  #done() {
    return { key: this.#upload.key, viewUrl: this.#upload.viewUrl };
  }

  // Whether the object is stored with this file's size (read through viewUrl, one byte).
  async #arrived(signal) {
    if (!this.#upload.viewUrl) return false;
    try {
      const response = await fetch(this.#upload.viewUrl, { headers: { range: 'bytes=0-0' }, signal });
      const total = /\/(\d+)$/.exec(response.headers.get('content-range') || '')?.[1];
      await response.body?.cancel();
      return response.status === 206 ? Number(total) === this.file.size
        : response.status === 200 && Number(response.headers.get('content-length')) === this.file.size;
    } catch {
      return false;
    }
  }
}
