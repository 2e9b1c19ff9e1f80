// Torrents waiting on the user's answer in the confirm page. Bounded (a page that starts a
// hundred downloads gets a few confirm pages, not a hundred tabs) and expiring. Pure: the clock
// and the id source are passed in.

export const MAX_PENDING = 5;
export const PENDING_TTL_MS = 10 * 60 * 1000;

export class PendingConfirmations {
  constructor({ now = () => Date.now(), newId, max = MAX_PENDING, ttlMs = PENDING_TTL_MS } = {}) {
    this.now = now;
    this.newId = newId;
    this.max = max;
    this.ttlMs = ttlMs;
    this.entries = new Map();
  }

  expire() {
    const now = this.now();
    for (const [id, e] of this.entries) if (e.expires <= now) this.entries.delete(id);
  }

  /**
   * Adds `entry` ({url, via, site, ...}) and returns `{id, fresh: true}`; the same URL still
   * waiting returns its id with `fresh: false`; a full queue returns null.
   */
  add(entry) {
    this.expire();
    for (const [id, e] of this.entries) if (e.url === entry.url) return { id, fresh: false };
    if (this.entries.size >= this.max) return null;
    const id = this.newId();
    this.entries.set(id, { ...entry, expires: this.now() + this.ttlMs });
    return { id, fresh: true };
  }

  get(id) {
    this.expire();
    return (typeof id === 'string' && this.entries.get(id)) || null;
  }

  update(id, fields) {
    const e = this.get(id);
    if (e) Object.assign(e, fields);
  }

  /** Removes and returns the entry: a confirmation is used once. */
  take(id) {
    const e = this.get(id);
    if (e) this.entries.delete(id);
    return e;
  }

  get size() {
    this.expire();
    return this.entries.size;
  }
}
