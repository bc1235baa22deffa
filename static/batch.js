// Upload URLs for single-PUT files, signed in batches (POST /api/uploads/batch)
// just in time: when an upload starts and has no URL, one request signs it and
// up to MAX_BATCH - 1 of the files queued right behind it. A URL kept waiting
// past half its life is dropped and signed again, so none expires in the queue.
// No DOM use.

/** Files per batch request: the API takes 100, but a batch should not outlive its URLs. */
export const MAX_BATCH = 20;

/**
 * Hands out upload tickets (what `POST /api/uploads` answers) for entries,
 * each an object with a `file`. `request(entries)` signs a batch: it resolves
 * to one item per entry, in order, either a ticket or `{error, message}`.
 */
export class BatchSigner {
  #request;
  #max;
  #now;
  #cache = new Map();     // entry -> { ticket, signedAt } or { refused }
  #inFlight = new Map();  // entry -> the promise of the batch that signs it

  constructor(request, { max = MAX_BATCH, now = () => Date.now() } = {}) {
    this.#request = request;
    this.#max = max;
    this.#now = now;
  }

  /**
   * The ticket for `entry`. `upcoming` lists the entries likely to start next;
   * a new batch signs as many of them as fit. Rejects with the batch's error,
   * or with `{code, message}` of this file's refusal (a RequestError-like value).
   */
  async ticketFor(entry, upcoming = []) {
    for (;;) {
      const taken = this.#take(entry);
      if (taken) return taken;
      const batch = this.#inFlight.get(entry);
      if (!batch) break;
      // Already part of a batch on its way: wait for it. If it fails, sign anew below.
      await batch.catch(() => {});
      if (!this.#cache.has(entry)) break;
    }
    const group = [entry];
    for (const other of upcoming) {
      if (group.length >= this.#max) break;
      if (other !== entry && !this.#inFlight.has(other) && !this.#usable(this.#cache.get(other))) group.push(other);
    }
    const signedAt = this.#now();
    const batch = this.#request(group);
    for (const member of group) this.#inFlight.set(member, batch);
    try {
      const answers = await batch;
      group.forEach((member, i) => {
        const answer = answers[i];
        this.#cache.set(member, answer && !answer.error ? { ticket: answer, signedAt } : { refused: answer || { error: 'missing', message: 'The server signed no URL for this file.' } });
      });
    } finally {
      for (const member of group) if (this.#inFlight.get(member) === batch) this.#inFlight.delete(member);
    }
    // Just signed for this very upload: used whatever its life (a server may sign for a second only).
    return this.#take(entry, { anyAge: true });
  }

  /** Drops what is kept for `entry` (cancelled or removed). */
  forget(entry) {
    this.#cache.delete(entry);
  }

  // The kept answer for `entry` if still good to use (removing it: a URL serves one upload).
  #take(entry, { anyAge = false } = {}) {
    const kept = this.#cache.get(entry);
    if (!kept) return null;
    this.#cache.delete(entry);
    if (kept.refused) {
      const { error, message } = kept.refused;
      return Promise.reject(Object.assign(new Error(message || error), { code: error, refused: true }));
    }
    return anyAge || this.#usable(kept) ? kept.ticket : null;
  }

  // A URL is used only in the first half of its life: the PUT must start well before it ends.
  #usable(kept) {
    if (!kept) return false;
    if (kept.refused) return true;
    const expires = Date.parse(kept.ticket.expiresAt);
    if (Number.isNaN(expires)) return true;
    return expires - this.#now() >= (expires - kept.signedAt) / 2;
  }
}
