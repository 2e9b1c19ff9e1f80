// The downloads page's table: a WAI-ARIA grid whose body is virtualised (only the rows in
// and near the viewport exist; spacers stand in for the rest), rows keyed by info-hash and
// updated in place only when their torrent changed. Sorting, filtering and selection are the
// pure lib/table.js and lib/selection.js; this file only renders them.

import { COLUMNS, ratioOf, etaOf } from '../lib/table.js';
import { fixedWindow, scrollToRow } from '../lib/virtual.js';
import { formatBytes, formatRate, formatPercent, formatEta, movingLabel } from '../lib/format.js';
import { displayText } from '../lib/text.js';

export const ROW_HEIGHT = 34;

function cell(doc, cls) {
  const c = doc.createElement('div');
  c.className = `cell ${cls}`;
  c.setAttribute('role', 'gridcell');
  return c;
}

class Row {
  constructor(doc, hash, t) {
    this.hash = hash;
    this.t = null;
    this.selected = null;
    const root = doc.createElement('div');
    root.className = 'row';
    root.setAttribute('role', 'row');
    root.id = `row-${hash}`;
    root.dataset.hash = hash;
    this.check = doc.createElement('input');
    this.check.type = 'checkbox';
    this.check.tabIndex = -1;
    const checkCell = cell(doc, 'c-select');
    checkCell.append(this.check);
    this.cells = {};
    for (const key of COLUMNS) this.cells[key] = cell(doc, `c-${key}`);
    this.bar = doc.createElement('span');
    this.bar.className = 'bar';
    this.barFill = doc.createElement('span');
    this.bar.append(this.barFill);
    this.pct = doc.createElement('span');
    this.pct.className = 'pct';
    this.cells.progress.append(this.bar, this.pct);
    root.append(checkCell, ...COLUMNS.map((k) => this.cells[k]));
    this.root = root;
  }

  update(t, selected, t9n) {
    if (t !== this.t) {
      const prev = this.t;
      this.t = t;
      this.root.dataset.state = t.state;
      const name = displayText(t.name);
      if (!prev || prev.name !== t.name) {
        this.cells.name.textContent = name;
        this.cells.name.title = name;
        this.check.setAttribute('aria-label', t9n('selectRow', name));
      }
      const moving = movingLabel(t, t9n);
      this.cells.state.textContent = moving ? moving.text : t9n(`state_${t.state}`);
      this.cells.state.title = moving ? moving.title : '';
      this.cells.size.textContent = formatBytes(t.total_bytes);
      this.barFill.style.transform = `scaleX(${Math.min(1, t.progress)})`;
      this.pct.textContent = formatPercent(t.progress);
      this.cells.down_rate.textContent = t.down_rate ? formatRate(t.down_rate) : '';
      this.cells.up_rate.textContent = t.up_rate ? formatRate(t.up_rate) : '';
      const eta = etaOf(t);
      this.cells.eta.textContent = eta === null ? '' : formatEta(eta);
      const ratio = ratioOf(t);
      this.cells.ratio.textContent = ratio === null ? '' : ratio.toFixed(2);
      this.cells.added.textContent = Number.isFinite(t.added_at) ? new Date(t.added_at * 1000).toLocaleDateString() : '';
    }
    if (selected !== this.selected) {
      this.selected = selected;
      this.root.setAttribute('aria-selected', String(selected));
      this.check.checked = selected;
    }
  }
}

/**
 * `callbacks`: {sort(key), pick(hash, {toggle, extend}), open(hash)}. `t9n` is the translator.
 */
export class TableView {
  constructor(doc, t9n, callbacks) {
    this.doc = doc;
    this.t9n = t9n;
    this.callbacks = callbacks;
    this.grid = doc.getElementById('grid');
    this.body = doc.getElementById('grid-body');
    this.rowsBox = doc.getElementById('rows');
    this.before = doc.getElementById('spacer-before');
    this.after = doc.getElementById('spacer-after');
    this.pool = new Map();
    this.rows = [];
    this.selection = null;
    this.cursor = null;
    this.renders = 0;
    this.buildHead(doc.getElementById('head-row'));
    this.body.addEventListener('scroll', () => this.callbacks.scrolled());
    this.rowsBox.addEventListener('click', (e) => {
      const row = e.target.closest('.row');
      if (!row) return;
      const toggle = e.ctrlKey || e.metaKey || e.target === row.querySelector('input');
      this.callbacks.pick(row.dataset.hash, { toggle, extend: e.shiftKey });
      this.grid.focus({ preventScroll: true });
    });
    this.rowsBox.addEventListener('dblclick', (e) => {
      const row = e.target.closest('.row');
      if (row) this.callbacks.open(row.dataset.hash);
    });
  }

  buildHead(head) {
    const doc = this.doc;
    const selectHead = doc.createElement('div');
    selectHead.className = 'cell c-select';
    selectHead.setAttribute('role', 'columnheader');
    this.selectAll = doc.createElement('input');
    this.selectAll.type = 'checkbox';
    this.selectAll.id = 'select-all';
    this.selectAll.setAttribute('aria-label', this.t9n('selectAll'));
    this.selectAll.addEventListener('change', () => this.callbacks.selectAll(this.selectAll.checked));
    selectHead.append(this.selectAll);
    head.append(selectHead);
    this.heads = {};
    for (const key of COLUMNS) {
      const h = doc.createElement('div');
      h.className = `cell c-${key}`;
      h.setAttribute('role', 'columnheader');
      const b = doc.createElement('button');
      b.type = 'button';
      b.className = 'sort';
      b.dataset.sort = key;
      b.textContent = this.t9n(`col_${key}`);
      b.addEventListener('click', () => this.callbacks.sort(key));
      h.append(b);
      head.append(h);
      this.heads[key] = h;
    }
  }

  /** Shows `rows` (already filtered and sorted); only the window's rows are touched. */
  render(rows, selection, sortView) {
    this.renders += 1;
    this.rows = rows;
    this.selection = selection;
    for (const key of COLUMNS) {
      const sort = sortView.key === key ? (sortView.dir === 'asc' ? 'ascending' : 'descending') : 'none';
      if (this.heads[key].getAttribute('aria-sort') !== sort) this.heads[key].setAttribute('aria-sort', sort);
    }
    this.grid.setAttribute('aria-rowcount', String(rows.length + 1));
    const all = rows.length > 0 && selection.size >= rows.length && rows.every((t) => selection.has(t.info_hash));
    this.selectAll.checked = all;
    this.selectAll.indeterminate = !all && selection.size > 0;
    const win = fixedWindow({
      count: rows.length,
      rowHeight: ROW_HEIGHT,
      scrollTop: this.body.scrollTop,
      viewportHeight: this.viewportHeight(),
    });
    this.before.style.height = `${win.before}px`;
    this.after.style.height = `${win.after}px`;
    const wanted = new Set();
    let at = this.rowsBox.firstChild;
    for (let i = win.start; i < win.end; i++) {
      const t = rows[i];
      wanted.add(t.info_hash);
      let row = this.pool.get(t.info_hash);
      if (!row) {
        row = new Row(this.doc, t.info_hash, t);
        this.pool.set(t.info_hash, row);
      }
      row.update(t, selection.has(t.info_hash), this.t9n);
      const index = String(i + 2);
      if (row.root.getAttribute('aria-rowindex') !== index) row.root.setAttribute('aria-rowindex', index);
      row.root.classList.toggle('cursor', t.info_hash === selection.cursor);
      if (at !== row.root) this.rowsBox.insertBefore(row.root, at);
      else at = at.nextSibling;
    }
    for (const [hash, row] of this.pool) {
      if (!wanted.has(hash)) {
        row.root.remove();
        this.pool.delete(hash);
      }
    }
    const cursorRow = selection.cursor && this.pool.get(selection.cursor);
    if (cursorRow) this.grid.setAttribute('aria-activedescendant', cursorRow.root.id);
    else this.grid.removeAttribute('aria-activedescendant');
  }

  /** The body's height below the sticky head row. */
  viewportHeight() {
    return Math.max(0, this.body.clientHeight - ROW_HEIGHT);
  }

  /** Scrolls so row `index` is visible (not under the sticky head); true when it scrolled. */
  reveal(index) {
    const top = scrollToRow({ index, rowHeight: ROW_HEIGHT, scrollTop: this.body.scrollTop, viewportHeight: this.viewportHeight() });
    if (top === null) return false;
    this.body.scrollTop = top;
    return true;
  }

  /** Rows per page, for PageUp/PageDown. */
  pageRows() {
    return Math.max(1, Math.floor(this.viewportHeight() / ROW_HEIGHT) - 1);
  }
}
