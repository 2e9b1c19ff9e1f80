// Choosing the files of a torrent that waits in `awaiting_selection` (helper/PROTOCOL.md,
// `select`): the file tree of lib/detail.js with a checkbox per file and per folder (a folder
// checks or clears everything below it and shows "mixed" when its files disagree), the bytes
// chosen, the folders the helper allows, and the `select` request. Pure (node-tested).

import { fileTree, treeRows } from './detail.js';

const HASH = /^[0-9a-f]{40}$/;

/** Whether `hash` is an info-hash as the helper writes it (40 lowercase hex digits). */
export function isInfoHash(hash) {
  return typeof hash === 'string' && HASH.test(hash);
}

/** The torrents waiting for a selection, in list order (TorrentStatus objects). */
export function awaitingTorrents(list) {
  return (Array.isArray(list) ? list : []).filter((t) => t && t.state === 'awaiting_selection' && isInfoHash(t.info_hash));
}

/**
 * The choice for one torrent: its tree (every file checked at first, as "start with all files"
 * would have it) and the set of checked file indices.
 */
export class Choice {
  /** `files` is the `files` answer's list (helper/PROTOCOL.md). */
  constructor(files) {
    this.tree = fileTree(files);
    this.checked = new Set(this.tree.indices);
  }

  /** 'checked' | 'unchecked' | 'mixed' for a node of the tree (a file node or a folder). */
  state(node) {
    const indices = node.file ? [node.file.index] : node.indices;
    let on = 0;
    for (const i of indices) if (this.checked.has(i)) on += 1;
    if (on === 0) return 'unchecked';
    return on === indices.length ? 'checked' : 'mixed';
  }

  /**
   * Flips a node: a checked file is cleared, an unchecked one checked; a folder that is fully
   * checked is cleared with everything below it, otherwise (unchecked or mixed) all of it is
   * checked, as file managers do.
   */
  toggle(node) {
    const indices = node.file ? [node.file.index] : node.indices;
    const clear = this.state(node) === 'checked';
    for (const i of indices) {
      if (clear) this.checked.delete(i);
      else this.checked.add(i);
    }
  }

  /** Checks (`on`) or clears every file. */
  setAll(on) {
    this.checked = on ? new Set(this.tree.indices) : new Set();
  }

  /** The checked indices, ascending (the `files` of `select`). */
  indices() {
    return [...this.checked].sort((a, b) => a - b);
  }

  /** `{files, bytes}` checked and `{files, bytes}` in all. */
  totals() {
    let bytes = 0;
    let files = 0;
    const walk = (node) => {
      for (const c of node.children) {
        if (c.file) {
          if (this.checked.has(c.file.index)) {
            bytes += c.length;
            files += 1;
          }
        } else walk(c);
      }
    };
    walk(this.tree);
    return { files, bytes, totalFiles: this.tree.files, totalBytes: this.tree.length };
  }

  /** Rows to render (lib/detail.js treeRows), each with its checkbox state. */
  rows(collapsed) {
    return treeRows(this.tree, collapsed).map((row) => ({ ...row, check: this.state(row.node) }));
  }

  /**
   * The `select` request's arguments, or null when nothing is checked (the helper would take an
   * empty list as an error; the page keeps its button disabled then). Every file checked is
   * sent as "all". `saveDir` is added when given (the page gives it when the user picked
   * another folder than the one the torrent would go to).
   */
  request(infoHash, saveDir) {
    if (!this.checked.size) return null;
    const all = this.checked.size === this.tree.indices.length;
    const args = { info_hash: infoHash, files: all ? 'all' : this.indices() };
    if (typeof saveDir === 'string' && saveDir) args.save_dir = saveDir;
    return args;
  }
}

/**
 * The folders a torrent may go to: the download folder first, then the allowed folders from the
 * helper's settings (`get_settings`), each once, strings only.
 */
export function targetFolders(settings) {
  const s = settings && typeof settings === 'object' ? settings : {};
  const dirs = [s.download_dir, ...(Array.isArray(s.allowed_dirs) ? s.allowed_dirs : [])];
  return [...new Set(dirs.filter((d) => typeof d === 'string' && d))];
}

/**
 * The folder a waiting torrent goes to now: the allowed folder that holds its `save_path` (the
 * longest such), else the first one.
 */
export function currentFolder(folders, savePath) {
  const path = typeof savePath === 'string' ? savePath : '';
  let best = null;
  for (const f of folders) {
    const base = f.endsWith('/') || f.endsWith('\\') ? f : `${f}/`;
    const inside = path === f || path.startsWith(base) || path.startsWith(f.endsWith('\\') ? f : `${f}\\`);
    if (inside && (!best || f.length > best.length)) best = f;
  }
  return best || folders[0] || null;
}

/** The `#choose=HASH` of a downloads page URL's hash, or null. */
export function chooseFromHash(hash) {
  const m = /^#choose=([0-9a-fA-F]{40})$/.exec(typeof hash === 'string' ? hash : '');
  return m ? m[1].toLowerCase() : null;
}
