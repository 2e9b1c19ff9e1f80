// The downloads page's detail pane for the torrent under the cursor: tabs for files (a tree
// with progress and priorities), peers, trackers, web seeds and the piece map. The tab shown is
// refreshed every 2 s while the page is visible, one request at a time. What the helper cannot
// answer (an older helper: `unknown_command`) is said in words, never left blank.

import { fileTree, treeRows, normalizePeers, normalizeTrackers, normalizeWebSeeds, pieceMap, PRIORITIES } from '../lib/detail.js';
import { formatBytes, formatRate, formatPercent } from '../lib/format.js';
import { displayText } from '../lib/text.js';
import { isPlayable, playerPath } from '../lib/media.js';
import { Choice, targetFolders, currentFolder } from '../lib/choose.js';

export const TABS = ['files', 'peers', 'trackers', 'webseeds', 'pieces'];
const REFRESH_MS = 2000;
const PIECE_CELLS = 512;

function el(doc, tag, props = {}, children = []) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role' || key === 'for') node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

/** `command(cmd, args) -> Promise`; `t9n` the translator. */
export class DetailView {
  constructor(doc, t9n, command) {
    this.doc = doc;
    this.t9n = t9n;
    this.command = command;
    this.title = doc.getElementById('detail-title');
    this.panel = doc.getElementById('tab-panel');
    this.tabsBox = doc.getElementById('tabs');
    this.tab = 'files';
    this.torrent = null;
    this.collapsed = new Set();
    // The file choice of a torrent in `awaiting_selection` ({hash, choice, folders, folder}):
    // built once per torrent and kept across refreshes, so the user's ticks stay.
    this.choosing = null;
    this.inFlight = false;
    this.timer = null;
    this.tabs = {};
    TABS.forEach((name) => {
      const b = el(doc, 'button', { type: 'button', role: 'tab', id: `tab-${name}`, 'aria-controls': 'tab-panel', text: t9n(`tab_${name}`) });
      b.addEventListener('click', () => this.show(name));
      b.addEventListener('keydown', (e) => this.tabKey(e, name));
      this.tabsBox.append(b);
      this.tabs[name] = b;
    });
    this.markTabs();
    this.panel.setAttribute('aria-labelledby', 'tab-files');
    this.title.textContent = t9n('detailNone');
    for (const b of Object.values(this.tabs)) b.disabled = true;
    doc.addEventListener('visibilitychange', () => this.schedule(0));
  }

  tabKey(e, name) {
    const i = TABS.indexOf(name);
    let next = null;
    if (e.key === 'ArrowRight') next = TABS[(i + 1) % TABS.length];
    else if (e.key === 'ArrowLeft') next = TABS[(i + TABS.length - 1) % TABS.length];
    else if (e.key === 'Home') next = TABS[0];
    else if (e.key === 'End') next = TABS[TABS.length - 1];
    if (!next) return;
    e.preventDefault();
    this.show(next);
    this.tabs[next].focus();
  }

  markTabs() {
    for (const [name, b] of Object.entries(this.tabs)) {
      b.setAttribute('aria-selected', String(name === this.tab));
      b.tabIndex = name === this.tab ? 0 : -1;
    }
  }

  show(tab) {
    this.tab = tab;
    this.markTabs();
    this.panel.setAttribute('aria-labelledby', `tab-${tab}`);
    this.panel.dataset.tab = tab;
    this.panel.replaceChildren();
    this.schedule(0);
  }

  /** The torrent under the cursor (a TorrentStatus) or null; called on every render. */
  setTorrent(t) {
    const changed = (t && t.info_hash) !== (this.torrent && this.torrent.info_hash);
    const wasAwaiting = !!this.torrent && this.torrent.state === 'awaiting_selection';
    this.torrent = t;
    if (!changed) {
      if (t && this.tab === 'webseeds') this.renderWebSeeds(t);
      // Chosen (here or elsewhere): the chooser gives way to the files with their priorities.
      if (t && wasAwaiting && t.state !== 'awaiting_selection') {
        this.choosing = null;
        if (this.tab === 'files') this.schedule(0);
      }
      return;
    }
    this.choosing = null;
    this.collapsed.clear();
    // A torrent that waits for its files to be chosen opens on the chooser.
    if (t && t.state === 'awaiting_selection' && this.tab !== 'files') {
      this.tab = 'files';
      this.markTabs();
      this.panel.setAttribute('aria-labelledby', 'tab-files');
    }
    this.title.textContent = t ? displayText(t.name) : this.t9n('detailNone');
    for (const b of Object.values(this.tabs)) b.disabled = !t;
    this.panel.replaceChildren();
    this.panel.dataset.tab = this.tab;
    if (t) this.schedule(0);
  }

  schedule(delay) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.refresh(), delay);
  }

  async refresh() {
    this.timer = null;
    const t = this.torrent;
    if (!t || this.doc.visibilityState === 'hidden') return;
    if (this.inFlight) return this.schedule(REFRESH_MS);
    this.inFlight = true;
    const tab = this.tab;
    try {
      if (tab === 'files' && t.state === 'awaiting_selection') await this.choose(t);
      else if (tab === 'webseeds') this.renderWebSeeds(t);
      else {
        const answer = tab === 'files' ? await this.allFiles(t.info_hash) : await this.command(tab, { info_hash: t.info_hash });
        if (this.torrent !== t && (!this.torrent || this.torrent.info_hash !== t.info_hash)) return;
        if (this.tab !== tab) return;
        this[`render_${tab}`](answer);
      }
    } catch (err) {
      if (this.tab === tab && this.torrent && this.torrent.info_hash === t.info_hash) this.unavailable(err);
    } finally {
      this.inFlight = false;
      if (this.torrent) this.schedule(REFRESH_MS);
    }
  }

  /** The whole `files` answer: the helper pages long lists (`next_offset`); at most 40 pages. */
  async allFiles(hash) {
    const first = await this.command('files', { info_hash: hash });
    const files = [...((first && Array.isArray(first.files) && first.files) || [])];
    let next = first && first.next_offset;
    for (let page = 0; page < 40 && Number.isInteger(next) && next > 0; page++) {
      const more = await this.command('files', { info_hash: hash, offset: next });
      files.push(...((more && Array.isArray(more.files) && more.files) || []));
      next = more && Number.isInteger(more.next_offset) && more.next_offset > next ? more.next_offset : null;
    }
    return { ...first, files };
  }

  unavailable(err) {
    const missing = err && (err.code === 'unknown_command' || err.code === 'forbidden');
    const text = missing ? this.t9n('notAvailable') : this.t9n('detailError', displayText(String((err && err.message) || ''), 300));
    this.panel.replaceChildren(el(this.doc, 'p', { class: 'unavailable', 'data-code': (err && err.code) || 'error', text }));
  }

  table(headers, rows, cls) {
    const doc = this.doc;
    const head = el(doc, 'tr', {}, headers.map((h) => el(doc, 'th', { scope: 'col', text: this.t9n(h) })));
    const body = rows.map((cells) => el(doc, 'tr', {}, cells.map((c) => (c instanceof Node ? el(doc, 'td', {}, [c]) : el(doc, 'td', { text: c })))));
    return el(doc, 'table', { class: `detail-table ${cls}` }, [el(doc, 'thead', {}, [head]), el(doc, 'tbody', {}, body)]);
  }

  empty(key) {
    this.panel.replaceChildren(el(this.doc, 'p', { class: 'unavailable', 'data-code': 'empty', text: this.t9n(key) }));
  }

  // ---- files: a tree with folder totals; a priority per file and per folder

  render_files(answer) {
    const tree = fileTree(answer && answer.files);
    if (!tree.files) return this.empty(answer && answer.metadata === false ? 'filesNoMetadata' : 'filesNone');
    const doc = this.doc;
    const rows = treeRows(tree, this.collapsed).map(({ node, depth, folder }) => {
      const name = el(doc, 'span', { class: 'tree-name', text: displayText(node.name) });
      name.style.paddingInlineStart = `${depth * 16}px`;
      let first = name;
      const path = !folder && isPlayable(node.name) && playerPath(answer.info_hash, node.file.index);
      if (path) {
        // Play while it downloads: the player page asks the helper for the stream.
        const play = el(doc, 'button', { type: 'button', class: 'play', text: '▶', title: this.t9n('playFile'), 'aria-label': this.t9n('playFile') });
        play.addEventListener('click', () => window.open(chrome.runtime.getURL(path), '_blank'));
        first = el(doc, 'span', { class: 'tree-play' }, [play, name]);
      }
      if (folder) {
        const open = !this.collapsed.has(node.path);
        const toggle = el(doc, 'button', { type: 'button', class: 'tree-toggle', 'aria-expanded': String(open), text: `${open ? '▾' : '▸'} ${displayText(node.name)}` });
        toggle.style.marginInlineStart = `${depth * 16}px`;
        toggle.addEventListener('click', () => {
          if (open) this.collapsed.add(node.path);
          else this.collapsed.delete(node.path);
          this.render_files(answer);
        });
        first = toggle;
      }
      const progress = node.length ? node.have_bytes / node.length : 0;
      const select = el(doc, 'select', { class: 'priority', 'aria-label': this.t9n('priorityFor', displayText(node.name)) });
      for (const p of [...(node.priority === 'mixed' ? ['mixed'] : []), ...PRIORITIES]) {
        select.append(el(doc, 'option', { value: p, text: this.t9n(`priority_${p}`), disabled: p === 'mixed' }));
      }
      select.value = folder ? node.priority : node.file.priority;
      const indices = folder ? node.indices : [node.file.index];
      select.addEventListener('change', () => this.setPriority(indices, select.value));
      return [first, formatBytes(node.length), formatPercent(progress), select];
    });
    const table = this.table(['col_name', 'col_size', 'col_progress', 'col_priority'], rows, 'files');
    this.panel.replaceChildren(table);
  }

  // ---- choosing the files of a torrent that waits for it (state `awaiting_selection`)

  /** Builds the choice once per torrent (files and the allowed folders) and renders it. */
  async choose(t) {
    if (this.choosing && this.choosing.hash === t.info_hash) {
      if (!this.panel.querySelector('#chooser')) this.render_choose();
      return;
    }
    const answer = await this.allFiles(t.info_hash);
    let settings = null;
    try {
      settings = await this.command('get_settings', {});
    } catch {
      // an older helper or no settings: the torrent stays in the folder it was added to
    }
    if (!this.torrent || this.torrent.info_hash !== t.info_hash || this.tab !== 'files') return;
    const folders = targetFolders(settings);
    const folder = currentFolder(folders, t.save_path);
    this.choosing = { hash: t.info_hash, choice: new Choice(answer && answer.files), folders, folder, initial: folder, busy: false };
    this.render_choose();
  }

  render_choose() {
    const c = this.choosing;
    if (!c) return;
    const doc = this.doc;
    const { choice } = c;
    const rows = choice.rows(this.collapsed).map(({ node, depth, folder, check }) => {
      const box = el(doc, 'input', { type: 'checkbox', class: 'choose-box', 'aria-label': this.t9n('chooseFile', displayText(node.name)) });
      box.checked = check === 'checked';
      box.indeterminate = check === 'mixed';
      box.dataset.check = check;
      box.dataset.path = node.path;
      box.addEventListener('change', () => {
        choice.toggle(node);
        this.render_choose();
        const again = [...this.panel.querySelectorAll('input.choose-box')].find((b) => b.dataset.path === node.path);
        if (again) again.focus();
      });
      let name;
      if (folder) {
        const open = !this.collapsed.has(node.path);
        name = el(doc, 'button', { type: 'button', class: 'tree-toggle', 'aria-expanded': String(open), text: `${open ? '▾' : '▸'} ${displayText(node.name)}` });
        name.addEventListener('click', () => {
          if (open) this.collapsed.add(node.path);
          else this.collapsed.delete(node.path);
          this.render_choose();
        });
      } else name = el(doc, 'span', { class: 'tree-name', text: displayText(node.name) });
      const cell = el(doc, 'label', { class: 'choose-cell' }, [box, name]);
      cell.style.paddingInlineStart = `${depth * 16}px`;
      return [cell, formatBytes(node.length)];
    });
    const table = this.table(['col_name', 'col_size'], rows, 'files choose');
    const totals = choice.totals();
    const summary = el(doc, 'p', {
      class: 'choose-total',
      id: 'choose-total',
      role: 'status',
      text: this.t9n('chooseTotal', totals.files, totals.totalFiles, formatBytes(totals.bytes), formatBytes(totals.totalBytes)),
    });
    const all = el(doc, 'button', { type: 'button', class: 'secondary', id: 'choose-all', text: this.t9n('chooseAll') });
    all.addEventListener('click', () => {
      choice.setAll(true);
      this.render_choose();
    });
    const none = el(doc, 'button', { type: 'button', class: 'secondary', id: 'choose-none', text: this.t9n('chooseNone') });
    none.addEventListener('click', () => {
      choice.setAll(false);
      this.render_choose();
    });
    const where = el(doc, 'select', { id: 'choose-folder' });
    for (const f of c.folders) where.append(el(doc, 'option', { value: f, text: displayText(f) }));
    if (c.folder) where.value = c.folder;
    where.disabled = c.folders.length < 2;
    where.addEventListener('change', () => {
      c.folder = where.value;
    });
    const start = el(doc, 'button', { type: 'button', class: 'primary', id: 'choose-start', text: this.t9n('chooseStart') });
    start.disabled = c.busy || !choice.checked.size;
    start.addEventListener('click', () => this.startChosen());
    const head = el(doc, 'p', { class: 'choose-head', text: this.t9n('chooseHeading') });
    const folderRow = el(doc, 'div', { class: 'choose-folder' }, [el(doc, 'label', { for: 'choose-folder', text: this.t9n('chooseFolder') }), where]);
    const buttons = el(doc, 'div', { class: 'buttons choose-buttons' }, [all, none, start]);
    this.panel.dataset.tab = 'choose';
    this.panel.replaceChildren(el(doc, 'div', { class: 'chooser', id: 'chooser' }, [head, table, summary, folderRow, buttons]));
  }

  async startChosen() {
    const c = this.choosing;
    if (!c || c.busy) return;
    const args = c.choice.request(c.hash, c.folder && c.folder !== c.initial ? c.folder : null);
    if (!args) return;
    c.busy = true;
    this.render_choose();
    try {
      await this.command('select', args);
      // The next status says `downloading` (or `queued`); setTorrent then shows the files.
    } catch (err) {
      c.busy = false;
      this.render_choose();
      this.panel.append(el(this.doc, 'p', { class: 'unavailable', 'data-code': (err && err.code) || 'error', text: this.t9n('detailError', displayText(String((err && err.message) || ''), 300)) }));
    }
  }

  async setPriority(indices, priority) {
    const t = this.torrent;
    if (!t) return;
    try {
      await this.command('priority', { info_hash: t.info_hash, files: indices, priority });
    } catch (err) {
      this.unavailable(err);
    }
    this.schedule(0);
  }

  // ---- peers, trackers, web seeds, pieces

  render_peers(answer) {
    const peers = normalizePeers(answer);
    if (!peers.length) return this.empty('peersNone');
    const rows = peers.map((p) => [p.addr, displayText(p.client), p.flags.join(' '), formatRate(p.down_rate), formatRate(p.up_rate), formatPercent(p.progress)]);
    this.panel.replaceChildren(this.table(['peerAddress', 'peerClient', 'peerFlags', 'col_down_rate', 'col_up_rate', 'col_progress'], rows, 'peers'));
  }

  render_trackers(answer) {
    const trackers = normalizeTrackers(answer);
    if (!trackers.length) return this.empty('trackersNone');
    const when = (secs) => (secs === null ? '' : new Date(secs * 1000).toLocaleTimeString());
    const count = (n) => (n === null ? '' : String(n));
    const rows = trackers.map((t) => [
      displayText(t.url),
      t.message ? `${this.t9n(`tracker_${t.status}`)}: ${displayText(t.message)}` : this.t9n(`tracker_${t.status}`),
      when(t.last_announce),
      when(t.next_announce),
      count(t.seeds),
      count(t.peers),
    ]);
    this.panel.replaceChildren(this.table(['trackerUrl', 'trackerStatus', 'trackerLast', 'trackerNext', 'trackerSeeds', 'trackerPeers'], rows, 'trackers'));
  }

  renderWebSeeds(t) {
    const seeds = normalizeWebSeeds(t);
    if (!seeds.length) return this.empty('webSeedsNone');
    const rows = seeds.map((w) => [displayText(w.url), w.error ? `${w.state}: ${displayText(w.error)}` : w.state, formatRate(w.down_rate), formatBytes(w.downloaded)]);
    this.panel.replaceChildren(this.table(['webSeedUrl', 'trackerStatus', 'col_down_rate', 'webSeedDownloaded'], rows, 'webseeds'));
  }

  render_pieces(answer) {
    const map = pieceMap(answer, PIECE_CELLS);
    if (!map) return this.unavailable({ code: 'bad_answer', message: this.t9n('piecesBad') });
    const doc = this.doc;
    const canvas = el(doc, 'canvas', { class: 'piece-map', width: PIECE_CELLS, height: 24, role: 'img', 'aria-label': this.t9n('piecesSummary', map.have, map.count) });
    const ctx = canvas.getContext('2d');
    const style = getComputedStyle(this.panel);
    const on = style.getPropertyValue('--accent').trim() || '#1a5fd0';
    const off = style.getPropertyValue('--surface-2').trim() || '#e8ecf2';
    map.cells.forEach((share, i) => {
      const w = PIECE_CELLS / map.cells.length;
      ctx.fillStyle = off;
      ctx.fillRect(i * w, 0, w, 24);
      ctx.fillStyle = on;
      ctx.globalAlpha = share;
      ctx.fillRect(i * w, 0, w, 24);
      ctx.globalAlpha = 1;
    });
    this.panel.replaceChildren(canvas, el(doc, 'p', { class: 'hint', text: this.t9n('piecesSummary', map.have, map.count) }));
  }
}
