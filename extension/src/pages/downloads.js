// The downloads page: every torrent in a sortable, filterable, virtualised table with bulk
// actions, and a detail pane for the one under the cursor. State comes from the background as
// patches (lib/sync.js) and is rendered at most once per animation frame (lib/batch.js).

import { applyPatches } from '../lib/sync.js';
import { FrameBatcher } from '../lib/batch.js';
import { torrentList } from '../lib/store.js';
import { tableRows, filterCounts, STATE_FILTERS } from '../lib/table.js';
import { Selection } from '../lib/selection.js';
import { translator, localize } from '../lib/i18n.js';
import { formatRate } from '../lib/format.js';
import { displayText } from '../lib/text.js';
import { TableView } from './downloads-table.js';
import { DetailView } from './downloads-detail.js';
import { chooseFromHash } from '../lib/choose.js';

const t9n = translator((key, subs) => chrome.i18n.getMessage(key, subs));
localize(document, t9n);
document.documentElement.lang = chrome.i18n.getUILanguage ? chrome.i18n.getUILanguage() : 'en';

// ---- the port to the background

const port = chrome.runtime.connect({ name: 'popup' });
let nextRid = 1;
const pending = new Map();

// The background answers every command (the helper's own requests time out there); this bound
// is for a background that went away mid-request, so a bulk action never waits forever.
const COMMAND_TIMEOUT_MS = 60000;

function command(cmd, args) {
  const rid = nextRid++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => settle(rid, false, null, { code: 'timeout', error: `no answer to ${cmd}` }), COMMAND_TIMEOUT_MS);
    pending.set(rid, { resolve, reject, timer });
    port.postMessage({ type: 'command', cmd, args, rid });
  });
}

function settle(rid, ok, result, error) {
  const entry = pending.get(rid);
  if (!entry) return;
  pending.delete(rid);
  clearTimeout(entry.timer);
  if (ok) entry.resolve(result);
  else {
    const err = new Error((error && error.error) || 'failed');
    err.code = error && error.code;
    entry.reject(err);
  }
}

port.onDisconnect.addListener(() => {
  for (const rid of [...pending.keys()]) settle(rid, false, null, { code: 'disconnected', error: 'the extension restarted: reload this page' });
});

const notice = document.getElementById('notice');
let noticeTimer = null;
function say(kind, text) {
  notice.hidden = false;
  notice.dataset.kind = kind;
  notice.textContent = text;
  if (noticeTimer) clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => {
    notice.hidden = true;
  }, kind === 'error' ? 10000 : 4000);
}

// ---- state and view settings

let state = { helper: 'unknown', helperError: null, helperInfo: null, torrents: {}, order: [] };
const view = { key: 'added', dir: 'desc', state: 'all', query: '' };
const selection = new Selection();
let rows = [];
// For the tests and a developer's console: how many patches arrived and how many renders ran.
const stats = { patches: 0, renders: 0, longestFlushMs: 0, flushMs: 0 };
globalThis.swarmlinkDownloads = { stats, view, selection, rows: () => rows };

const table = new TableView(document, t9n, {
  sort(key) {
    view.dir = view.key === key && view.dir === 'desc' ? 'asc' : view.key === key ? 'desc' : key === 'name' ? 'asc' : 'desc';
    view.key = key;
    renderSoon();
  },
  pick(hash, how) {
    selection.pick(rows, hash, how);
    renderSoon();
  },
  open(hash) {
    selection.pick(rows, hash);
    detail.tabs[detail.tab].focus();
    renderSoon();
  },
  selectAll(on) {
    if (on) selection.selectAll(rows);
    else selection.clear();
    renderSoon();
  },
  scrolled: () => renderSoon(),
});
const detail = new DetailView(document, t9n, command);

const batcher = new FrameBatcher(
  (fn) => requestAnimationFrame(fn),
  (patches) => {
    const started = performance.now();
    state = applyPatches(state, patches.filter(Boolean));
    render();
    const took = performance.now() - started;
    stats.flushMs += took;
    stats.longestFlushMs = Math.max(stats.longestFlushMs, took);
  },
);
function renderSoon() {
  batcher.push(null);
}

port.onMessage.addListener((message) => {
  if (message.type === 'patch') {
    stats.patches += 1;
    batcher.push(message.patch);
  } else if (message.type === 'reply') {
    settle(message.rid, message.ok, message.result, message.error);
  }
});
port.postMessage({ type: 'connect' });

// ---- rendering

const filtersBox = document.getElementById('filters');
const filterButtons = {};
for (const name of Object.keys(STATE_FILTERS)) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'filter';
  b.setAttribute('role', 'radio');
  b.dataset.filter = name;
  b.addEventListener('click', () => {
    view.state = name;
    renderSoon();
  });
  filtersBox.append(b);
  filterButtons[name] = b;
}
filtersBox.addEventListener('keydown', (e) => {
  const names = Object.keys(STATE_FILTERS);
  const i = names.indexOf(view.state);
  const next = e.key === 'ArrowRight' || e.key === 'ArrowDown' ? names[(i + 1) % names.length] : e.key === 'ArrowLeft' || e.key === 'ArrowUp' ? names[(i + names.length - 1) % names.length] : null;
  if (!next) return;
  e.preventDefault();
  view.state = next;
  filterButtons[next].focus();
  renderSoon();
});

const search = document.getElementById('search');
search.addEventListener('input', () => {
  view.query = search.value;
  renderSoon();
});

const empty = document.getElementById('empty');
const count = document.getElementById('count');
const selectedCount = document.getElementById('selected-count');
const bulkButtons = [...document.querySelectorAll('[data-bulk]')];
let lastCounts = '';

function render() {
  stats.renders += 1;
  const all = torrentList(state);
  rows = tableRows(all, view);
  if (selection.size || selection.cursor) selection.retain(new Set(state.order));
  let down = 0;
  let up = 0;
  for (const t of all) {
    down += t.down_rate;
    up += t.up_rate;
  }
  document.getElementById('total-down').textContent = formatRate(down);
  document.getElementById('total-up').textContent = formatRate(up);
  const counts = filterCounts(all);
  const countsKey = JSON.stringify(counts) + view.state;
  if (countsKey !== lastCounts) {
    lastCounts = countsKey;
    for (const [name, b] of Object.entries(filterButtons)) {
      b.textContent = `${t9n(`filter_${name}`)} ${counts[name]}`;
      b.setAttribute('aria-checked', String(view.state === name));
      b.tabIndex = view.state === name ? 0 : -1;
    }
    count.textContent = t9n('countTorrents', all.length);
  }
  const n = selection.size;
  selectedCount.textContent = n ? t9n('countSelected', n) : '';
  // Cancel move only when a selected torrent's files are moving.
  const moving = n > 0 && selection.inOrder(rows).some((h) => state.torrents[h] && state.torrents[h].moving);
  for (const b of bulkButtons) b.disabled = n === 0 || (b.dataset.bulk === 'cancel_move' && !moving);
  table.render(rows, selection, view);
  empty.hidden = rows.length > 0;
  if (!rows.length) {
    empty.textContent = helperMissing() ? t9n('helperMissing') : all.length ? t9n('emptyFiltered') : t9n('emptyNone');
  }
  if (chooseNext && state.torrents[chooseNext]) {
    // Opened for one torrent (the popup's "Choose files", `#choose=HASH`): it becomes the
    // cursor, shown whatever the filter, and the detail pane opens on its files.
    if (!rows.some((t) => t.info_hash === chooseNext)) {
      view.state = 'all';
      view.query = '';
      search.value = '';
      rows = tableRows(all, view);
    }
    selection.pick(rows, chooseNext);
    const index = rows.findIndex((t) => t.info_hash === chooseNext);
    chooseNext = null;
    detail.show('files');
    if (index >= 0) table.reveal(index);
    table.render(rows, selection, view);
  }
  detail.setTorrent((selection.cursor && state.torrents[selection.cursor]) || null);
}

// `#choose=HASH`: the torrent to open on its file chooser, once the list has it.
let chooseNext = chooseFromHash(location.hash);
window.addEventListener('hashchange', () => {
  chooseNext = chooseFromHash(location.hash);
  renderSoon();
});

function helperMissing() {
  return ['missing', 'broken', 'outdated'].includes(state.helper);
}

// ---- keyboard on the grid

const grid = document.getElementById('grid');
grid.addEventListener('keydown', (e) => {
  const moves = { ArrowDown: 1, ArrowUp: -1, PageDown: table.pageRows(), PageUp: -table.pageRows(), Home: -Infinity, End: Infinity };
  if (e.key in moves) {
    e.preventDefault();
    const delta = moves[e.key];
    const index = selection.move(rows, Number.isFinite(delta) ? delta : delta > 0 ? rows.length : -rows.length, { extend: e.shiftKey });
    if (index >= 0) table.reveal(index);
    renderSoon();
  } else if (e.key === ' ' && selection.cursor) {
    e.preventDefault();
    selection.pick(rows, selection.cursor, { toggle: true });
    renderSoon();
  } else if ((e.key === 'a' || e.key === 'A') && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    selection.selectAll(rows);
    renderSoon();
  } else if (e.key === 'Delete' && selection.size) {
    e.preventDefault();
    askRemove();
  } else if (e.key === 'Enter' && selection.cursor) {
    e.preventDefault();
    detail.tabs[detail.tab].focus();
  } else if (e.key === 'Escape') {
    selection.clear();
    renderSoon();
  }
});

// ---- bulk actions

async function forEachSelected(cmd, extra = {}) {
  // Only a torrent whose files move has a move to cancel.
  const hashes = selection.inOrder(rows).filter((h) => cmd !== 'cancel_move' || (state.torrents[h] && state.torrents[h].moving));
  // Queue moves toward the top go in the rows' order, toward the bottom in reverse, so the
  // selected torrents keep their relative order.
  if (cmd === 'queue' && (extra.to === 'down' || extra.to === 'bottom')) hashes.reverse();
  let failed = null;
  for (const info_hash of hashes) {
    try {
      await command(cmd, { info_hash, ...extra });
    } catch (err) {
      failed = err;
      if (err.code === 'unknown_command' || err.code === 'forbidden') break;
    }
  }
  if (failed) {
    const missing = failed.code === 'unknown_command' || failed.code === 'forbidden';
    say('error', missing ? t9n('notAvailableAction') : displayText(failed.message, 300));
  }
}

document.getElementById('toolbar').addEventListener('click', (e) => {
  const b = e.target.closest('[data-bulk]');
  if (!b || b.disabled) return;
  const what = b.dataset.bulk;
  if (what === 'pause' || what === 'resume') forEachSelected(what);
  else if (what === 'queue') forEachSelected('queue', { to: b.dataset.to });
  else if (what === 'remove') askRemove();
  else if (what === 'move') askMove();
  else if (what === 'cancel_move') forEachSelected('cancel_move');
});

const removeDialog = document.getElementById('remove-dialog');
function askRemove() {
  const n = selection.size;
  if (!n) return;
  const first = state.torrents[selection.inOrder(rows)[0]];
  document.getElementById('remove-title').textContent =
    n === 1 && first ? t9n('removeOne', displayText(first.name)) : t9n('removeMany', n);
  document.getElementById('remove-files').checked = false;
  removeDialog.returnValue = '';
  removeDialog.showModal();
  document.getElementById('remove-cancel').focus();
}
removeDialog.addEventListener('close', () => {
  if (removeDialog.returnValue !== 'ok') return;
  forEachSelected('remove', { delete_files: document.getElementById('remove-files').checked });
  grid.focus();
});

const moveDialog = document.getElementById('move-dialog');
async function askMove() {
  const n = selection.size;
  if (!n) return;
  let settings;
  try {
    settings = await command('get_settings', {});
  } catch (err) {
    say('error', displayText(err.message, 300));
    return;
  }
  const dirs = [settings && settings.download_dir, ...((settings && settings.allowed_dirs) || [])].filter((d) => typeof d === 'string' && d);
  const select = document.getElementById('move-dir');
  select.replaceChildren(...[...new Set(dirs)].map((d) => Object.assign(document.createElement('option'), { value: d, textContent: displayText(d) })));
  document.getElementById('move-title').textContent = t9n('moveTitle', n);
  moveDialog.returnValue = '';
  moveDialog.showModal();
}
moveDialog.addEventListener('close', () => {
  if (moveDialog.returnValue !== 'ok') return;
  const dir = document.getElementById('move-dir').value;
  if (dir) forEachSelected('move', { save_dir: dir });
  grid.focus();
});

render();
