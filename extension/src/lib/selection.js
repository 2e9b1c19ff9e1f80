// Multi-select over the table's rows, as file managers do it: a click selects one row, Ctrl
// (Cmd) toggles one, Shift extends from the anchor; arrow keys move the cursor. Rows are
// identified by info-hash, so a selection survives re-sorting and live updates. Pure.

export class Selection {
  constructor() {
    this.selected = new Set();
    this.anchor = null;
    this.cursor = null;
  }

  has(hash) {
    return this.selected.has(hash);
  }

  get size() {
    return this.selected.size;
  }

  /** The selected hashes in the order of `rows` (the table's current rows). */
  inOrder(rows) {
    return rows.filter((t) => this.selected.has(t.info_hash)).map((t) => t.info_hash);
  }

  /**
   * A pointer or keyboard pick of `hash` among `rows`: `toggle` (Ctrl/Cmd) flips it, `extend`
   * (Shift) selects the range from the anchor, neither selects it alone.
   */
  pick(rows, hash, { toggle = false, extend = false } = {}) {
    const index = rows.findIndex((t) => t.info_hash === hash);
    if (index < 0) return;
    if (extend && this.anchor !== null) {
      const from = rows.findIndex((t) => t.info_hash === this.anchor);
      if (from >= 0) {
        if (!toggle) this.selected.clear();
        const [a, b] = from <= index ? [from, index] : [index, from];
        for (let i = a; i <= b; i++) this.selected.add(rows[i].info_hash);
        this.cursor = hash;
        return;
      }
    }
    if (toggle) {
      if (this.selected.has(hash)) this.selected.delete(hash);
      else this.selected.add(hash);
    } else {
      this.selected.clear();
      this.selected.add(hash);
    }
    this.anchor = hash;
    this.cursor = hash;
  }

  /** Moves the cursor by `delta` rows (clamped) and picks that row; returns its index. */
  move(rows, delta, { extend = false } = {}) {
    if (!rows.length) return -1;
    const at = rows.findIndex((t) => t.info_hash === this.cursor);
    const index = at < 0 ? (delta > 0 ? 0 : rows.length - 1) : Math.min(rows.length - 1, Math.max(0, at + delta));
    this.pick(rows, rows[index].info_hash, { extend });
    return index;
  }

  selectAll(rows) {
    for (const t of rows) this.selected.add(t.info_hash);
  }

  clear() {
    this.selected.clear();
    this.anchor = null;
  }

  /** Drops hashes that are gone (removed torrents); the cursor too if its row went. */
  retain(existing) {
    for (const hash of this.selected) if (!existing.has(hash)) this.selected.delete(hash);
    if (this.cursor && !existing.has(this.cursor)) this.cursor = null;
    if (this.anchor && !existing.has(this.anchor)) this.anchor = null;
  }
}
