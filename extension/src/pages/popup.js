// The popup's wiring: a port to the background (which owns the helper connection), the add
// form, the file picker and drop target. Rendering is popup-view.js.

import { PopupView } from './popup-view.js';
import { bytesToBase64, looksLikeTorrent, MAX_TORRENT_BYTES } from '../lib/protocol.js';
import { classifyLink } from '../lib/links.js';
import { icon } from './icons.js';
import { displayText } from '../lib/text.js';
import { applyPatches } from '../lib/sync.js';
import { FrameBatcher } from '../lib/batch.js';
import { translator, localize } from '../lib/i18n.js';
import { awaitingTorrents } from '../lib/choose.js';
import { torrentList } from '../lib/store.js';

const t9n = translator((key, subs) => chrome.i18n.getMessage(key, subs));
localize(document, t9n);
import { reachability } from '../lib/reach.js';

const port = chrome.runtime.connect({ name: 'popup' });
let nextRid = 1;
const pending = new Map();

function send(message) {
  const rid = nextRid++;
  return new Promise((resolve, reject) => {
    pending.set(rid, { resolve, reject });
    port.postMessage({ ...message, rid });
  });
}

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

const view = new PopupView(document, {
  async command(cmd, args) {
    try {
      return await send({ type: 'command', cmd, args });
    } catch (err) {
      // The view asks the user itself before running a program; that is no error to show.
      if (err.code !== 'confirm_executable') say('error', err.message);
      throw err;
    }
  },
  retry() {
    port.postMessage({ type: 'connect' });
  },
  /** Opens the player page (an extension page, in a tab of its own). */
  play(path) {
    const url = chrome.runtime.getURL(path);
    if (chrome.tabs && chrome.tabs.create) chrome.tabs.create({ url });
    else window.open(url, '_blank');
  },
  async copy(text) {
    try {
      await navigator.clipboard.writeText(text);
      say('ok', t9n('copied'));
    } catch {
      say('error', t9n('copyFailed'));
    }
  },
});

// The reachability indicator: the helper's `hello` says whether peers connect to us; asked when
// the helper is ready, and again at most every 15 s while the popup stays open.
const reachDot = document.getElementById('reach');
let reachAsked = 0;
async function refreshReach() {
  reachAsked = Date.now();
  try {
    const r = reachability(await send({ type: 'command', cmd: 'hello', args: { client: 'popup' } }));
    reachDot.dataset.kind = r.kind;
    reachDot.title = r.label;
    reachDot.setAttribute('aria-label', r.label);
    reachDot.hidden = false;
  } catch {
    reachDot.hidden = true;
  }
}

// The background sends patches (lib/sync.js); they are applied and rendered once per frame.
let state = null;
let env = null;
// For the tests and a developer's console: patches received, renders and their cost.
const stats = { patches: 0, renders: 0, longestFlushMs: 0, flushMs: 0 };
globalThis.swarmlinkPopup = { stats };
const batcher = new FrameBatcher(
  (fn) => requestAnimationFrame(fn),
  (patches) => {
    const started = performance.now();
    state = applyPatches(state || {}, patches);
    view.render(state, env);
    renderAwaiting();
    if (state.helper === 'ready' && Date.now() - reachAsked > 15000) refreshReach();
    if (state.helper !== 'ready') reachDot.hidden = true;
    const took = performance.now() - started;
    stats.renders += 1;
    stats.flushMs += took;
    stats.longestFlushMs = Math.max(stats.longestFlushMs, took);
  },
);

port.onMessage.addListener((message) => {
  if (message.type === 'patch') {
    stats.patches += 1;
    if (message.env) env = message.env;
    batcher.push(message.patch);
  } else if (message.type === 'reply') {
    const entry = pending.get(message.rid);
    if (!entry) return;
    pending.delete(message.rid);
    if (message.ok) entry.resolve(message.result);
    else {
      const err = new Error((message.error && message.error.error) || 'failed');
      err.code = message.error && message.error.code;
      entry.reject(err);
    }
  }
});
port.postMessage({ type: 'connect' });

// ---- adding: paste field, file picker, drop target

async function addTorrentBytes(bytes, fileName) {
  if (bytes.length > MAX_TORRENT_BYTES || !looksLikeTorrent(bytes)) {
    say('error', t9n('notATorrent', displayText(fileName)));
    return;
  }
  try {
    const result = await send({ type: 'command', cmd: 'add', args: { torrent_b64: bytesToBase64(bytes) } });
    say('ok', t9n('added', displayText((result && result.name) || fileName)));
  } catch (err) {
    say('error', err.message);
  }
}

document.getElementById('add-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const input = document.getElementById('add-input');
  const text = input.value.trim();
  if (!text) return;
  if (!classifyLink(text) && !/^https?:\/\//i.test(text)) {
    say('error', t9n('pasteHint'));
    return;
  }
  const button = document.getElementById('add-button');
  button.disabled = true;
  try {
    const result = await send({ type: 'add-link', url: text });
    input.value = '';
    say('ok', t9n('added', displayText((result && result.name) || text)));
  } catch (err) {
    say('error', err.message);
  } finally {
    button.disabled = false;
  }
});

const fileInput = document.getElementById('file-input');
document.getElementById('pick-file').addEventListener('click', () => fileInput.click());
fileInput.addEventListener('change', async () => {
  for (const file of fileInput.files) await addTorrentBytes(new Uint8Array(await file.arrayBuffer()), file.name);
  fileInput.value = '';
});

const overlay = document.getElementById('drop-overlay');
let dragDepth = 0;
document.addEventListener('dragenter', (e) => {
  if (![...e.dataTransfer.types].includes('Files')) return;
  dragDepth += 1;
  overlay.hidden = false;
});
document.addEventListener('dragleave', () => {
  dragDepth = Math.max(0, dragDepth - 1);
  if (!dragDepth) overlay.hidden = true;
});
document.addEventListener('dragover', (e) => e.preventDefault());
document.addEventListener('drop', async (e) => {
  e.preventDefault();
  dragDepth = 0;
  overlay.hidden = true;
  for (const file of e.dataTransfer.files) await addTorrentBytes(new Uint8Array(await file.arrayBuffer()), file.name);
});

// ---- torrents waiting for the user to choose their files (setting "ask"): a notice and a
// button that opens the downloads page on the first one's chooser.

const awaitingBox = document.getElementById('awaiting');
const awaitingText = document.getElementById('awaiting-text');
let awaitingFirst = null;
function renderAwaiting() {
  const waiting = state && state.helper === 'ready' && Array.isArray(state.order) ? awaitingTorrents(torrentList(state)) : [];
  awaitingFirst = waiting.length ? waiting[0].info_hash : null;
  awaitingBox.hidden = !waiting.length;
  if (!waiting.length) return;
  awaitingText.textContent = waiting.length === 1 ? t9n('chooseWaitingOne', displayText(waiting[0].name, 80)) : t9n('chooseWaitingMany', waiting.length);
}
document.getElementById('awaiting-choose').addEventListener('click', () => {
  if (!awaitingFirst) return;
  port.postMessage({ type: 'open-downloads', choose: awaitingFirst });
  window.close();
});

const downloadsButton = document.getElementById('open-downloads');
downloadsButton.append(icon(document, 'list'));
downloadsButton.addEventListener('click', () => {
  port.postMessage({ type: 'open-downloads' });
  window.close();
});

const optionsButton = document.getElementById('open-options');
optionsButton.append(icon(document, 'settings'));
optionsButton.addEventListener('click', () => chrome.runtime.openOptionsPage());
