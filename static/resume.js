// Unfinished multipart uploads kept in localStorage, so that after a reload
// or a crash the page can offer to go on with them: the user picks the same
// file again (matched by name, size and last-modified time, as a File cannot
// be stored), and ListParts tells which parts need not be sent again.
// A record holds no file bytes: key, upload id, ticket, part layout, and
// the file's identity. Records whose ticket has expired are dropped, as the
// server would refuse to sign for them. No DOM use; `storage` is injectable.

const STORE_KEY = 'presign.unfinished-uploads.v1';

/** The storage to use: localStorage when the browser allows it, else nothing is kept. */
function defaultStorage() {
  try {
    return globalThis.localStorage ?? null;
  } catch {
    return null;  // storage disabled (some privacy settings throw on access)
  }
}

/**
 * The unfinished uploads of one API endpoint. `endpoint` keeps records of
 * uploaders pointed at different servers apart.
 */
export class ResumeStore {
  #storage;
  #endpoint;
  #now;

  constructor(endpoint, { storage = defaultStorage(), now = () => Date.now() } = {}) {
    this.#storage = storage;
    this.#endpoint = String(endpoint);
    this.#now = now;
  }

  /** Every record of this endpoint whose ticket is still valid, oldest first. */
  list() {
    return this.#all().filter(r => r.endpoint === this.#endpoint && this.#alive(r));
  }

  /** The record for `file` (same name, size and last-modified time), or null. */
  find(file) {
    return this.list().find(r => r.name === file.name && r.size === file.size && r.lastModified === file.lastModified) ?? null;
  }

  /** Keeps `record` (what MultipartUpload.record gives), replacing one with the same upload id. */
  save(record) {
    const others = this.#all().filter(r => r.uploadId !== record.uploadId);
    this.#write([...others, { ...record, endpoint: this.#endpoint, savedAt: this.#now() }]);
  }

  /** Forgets the record of `uploadId`. */
  remove(uploadId) {
    this.#write(this.#all().filter(r => r.uploadId !== uploadId));
  }

  #alive(record) {
    const expires = Date.parse(record.expiresAt);
    return !Number.isNaN(expires) && expires > this.#now();
  }

  #all() {
    try {
      const parsed = JSON.parse(this.#storage?.getItem(STORE_KEY) || '[]');
      return Array.isArray(parsed) ? parsed.filter(r => r && typeof r.uploadId === 'string') : [];
    } catch {
      return [];  // unreadable: treated as empty, and replaced on the next write
    }
  }

  // Expired records of every endpoint go on each write, so the list cannot grow without end.
  #write(records) {
    try {
      const kept = records.filter(r => this.#alive(r));
      if (kept.length) this.#storage?.setItem(STORE_KEY, JSON.stringify(kept));
      else this.#storage?.removeItem(STORE_KEY);
    } catch {
      // Full or disabled storage: the upload still works, it just cannot be resumed after a reload.
    }
  }
}
