// The background (Chromium service worker / Firefox background script): owns the native port
// to bthelper, the reducer state, the three interception paths, the badge, the context menu and
// the notifications. Every listener is registered synchronously at the top level, as MV3
// requires for a worker that may be woken by the event itself.

import {
  classifyLink,
  isTorrentDownload,
  TORRENT_NAVIGATION_REGEX,
} from './lib/links.js';
import {
  NATIVE_HOST,
  MAX_TORRENT_BYTES,
  RpcClient,
  HelperError,
  addRequestFor,
  looksLikeTorrent,
  classifyDisconnect,
  detectBrowser,
} from './lib/protocol.js';
import { initialState, reduce, badgeText, activeCount, notificationFor } from './lib/store.js';
import { withDefaults } from './lib/settings.js';

const IS_FIREFOX = typeof globalThis.browser !== 'undefined' && !!globalThis.browser.runtime?.getBrowserInfo;
const NAVIGATION_RULE_ID = 1;
const MENU_ID = 'swarmlink-download';
// Keep the port a little after the last reason to (a popup closing, a download finishing),
// so reopening the popup is instant; then let the worker sleep: the daemon keeps seeding.
const RELEASE_DELAY_MS = 20000;

let state = initialState();
let port = null;
let rpc = null;
let ready = null; // Promise<void> of the current connection's hello
let releaseTimer = null;
const popups = new Set();
let lastIntercept = null;

// ---------------------------------------------------------------- state and its views

function dispatch(action) {
  const before = state;
  state = reduce(state, action);
  if (state === before) return;
  updateBadge();
  const snapshot = { type: 'state', state, lastIntercept };
  for (const p of popups) {
    try {
      p.postMessage(snapshot);
    } catch {
      popups.delete(p);
    }
  }
  scheduleRelease();
}

function updateBadge() {
  const text = badgeText(state);
  chrome.action.setBadgeText({ text }).catch(() => {});
  chrome.action
    .setBadgeBackgroundColor({ color: text === '!' ? '#b3261e' : '#1a73e8' })
    .catch(() => {});
}

async function notify(note) {
  const settings = await loadSettings();
  if (!settings.notifications) return;
  chrome.notifications
    .create(note.id, {
      type: 'basic',
      iconUrl: chrome.runtime.getURL('icons/icon-128.png'),
      title: note.title,
      message: note.message,
    })
    .catch(() => {});
}

// ---------------------------------------------------------------- the native port

function connectHelper() {
  if (ready) return ready;
  dispatch({ type: 'helper', status: 'connecting' });
  let thisPort;
  try {
    thisPort = chrome.runtime.connectNative(NATIVE_HOST);
  } catch (err) {
    dispatch({ type: 'helper', status: classifyDisconnect(err.message), error: err.message });
    return Promise.reject(new HelperError('missing', err.message));
  }
  port = thisPort;
  rpc = new RpcClient((message) => thisPort.postMessage(message));
  const thisRpc = rpc;
  let helloDone = false;
  thisPort.onMessage.addListener((message) => {
    const event = thisRpc.handleMessage(message);
    if (!event) return;
    const note = notificationFor(state, event);
    dispatch({ type: 'event', message: event });
    if (note) notify(note);
  });
  const disconnected = new Promise((_, reject) => {
    thisPort.onDisconnect.addListener((p) => {
      const reason =
        (p && p.error && p.error.message) ||
        (chrome.runtime.lastError && chrome.runtime.lastError.message) ||
        (thisRpc.fatal && thisRpc.fatal.message) ||
        'the helper closed the connection';
      thisRpc.failAll(reason);
      if (port === thisPort) {
        port = null;
        rpc = null;
        ready = null;
        // A port that never answered hello means no usable helper; one that worked and then
        // closed (daemon restart, our own release) just needs reconnecting next time.
        const status = helloDone ? 'unknown' : classifyDisconnect(reason);
        dispatch({ type: 'helper', status, error: helloDone ? null : reason });
      }
      reject(new HelperError(helloDone ? 'disconnected' : classifyDisconnect(reason), reason));
    });
  });
  disconnected.catch(() => {});
  const handshake = (async () => {
    const hello = await thisRpc.request('hello', { client: `swarmlink-extension ${chrome.runtime.getManifest().version}` });
    helloDone = true;
    dispatch({ type: 'helper', status: 'ready', info: hello && typeof hello === 'object' ? hello : null });
    await refreshList(thisRpc);
    await thisRpc.request('subscribe').catch(() => {});
  })();
  ready = Promise.race([handshake, disconnected]);
  ready.catch((err) => {
    if (port === thisPort && !helloDone) {
      // hello timed out or was refused: a helper that speaks something else.
      dispatch({ type: 'helper', status: 'broken', error: err.message });
      try {
        thisPort.disconnect();
      } catch {}
      port = null;
      rpc = null;
      ready = null;
    }
  });
  return ready;
}

/** Fetches the whole list; the helper pages it (`next_offset`) to keep frames under 1 MiB. */
async function refreshList(client) {
  const torrents = [];
  let offset = 0;
  for (let page = 0; page < 10000; page++) {
    const reply = await client.request('list', { offset });
    if (Array.isArray(reply)) {
      torrents.push(...reply);
      break;
    }
    torrents.push(...((reply && Array.isArray(reply.torrents) && reply.torrents) || []));
    const next = reply && reply.next_offset;
    if (typeof next !== 'number' || next <= offset) break;
    offset = next;
  }
  dispatch({ type: 'list', torrents });
}

async function helperRequest(cmd, args) {
  await connectHelper();
  if (!rpc) throw new HelperError('disconnected', 'the helper went away');
  const result = await rpc.request(cmd, args);
  scheduleRelease();
  return result;
}

function scheduleRelease() {
  if (releaseTimer) clearTimeout(releaseTimer);
  releaseTimer = null;
  if (!port || popups.size > 0 || activeCount(state) > 0) return;
  releaseTimer = setTimeout(() => {
    releaseTimer = null;
    if (!port || popups.size > 0 || activeCount(state) > 0) return;
    const closing = port;
    port = null;
    rpc = null;
    ready = null;
    closing.disconnect();
    dispatch({ type: 'helper', status: 'unknown' });
  }, RELEASE_DELAY_MS);
}

// ---------------------------------------------------------------- adding torrents

async function fetchTorrent(url) {
  // The user's cookies go along: private trackers serve .torrent files only to logged-in users.
  const response = await fetch(url, { credentials: 'include', redirect: 'follow', cache: 'no-store' });
  if (!response.ok) throw new HelperError('fetch', `the server answered ${response.status} for ${url}`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_TORRENT_BYTES) throw new HelperError('fetch', 'the .torrent file is too large');
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes.length > MAX_TORRENT_BYTES) throw new HelperError('fetch', 'the .torrent file is too large');
  if (!looksLikeTorrent(bytes)) throw new HelperError('not_torrent', `${url} is not a .torrent file`);
  return bytes;
}

/** Adds a magnet or the torrent behind an http(s) URL; `via` says which path caught it. */
async function addLink(url, via) {
  const started = Date.now();
  let outcome;
  try {
    const kind = classifyLink(url);
    let request;
    if (kind === 'magnet') {
      request = addRequestFor({ magnet: url });
    } else if (/^https?:/i.test(url)) {
      request = addRequestFor({ bytes: await fetchTorrent(url), sourceUrl: url });
    } else {
      throw new HelperError('bad_link', `not a torrent link: ${url}`);
    }
    const result = await helperRequest(request.cmd, request.args);
    outcome = { ok: true, result };
  } catch (err) {
    outcome = { ok: false, code: err.code || 'error', error: err.message || String(err) };
  }
  lastIntercept = { via, url, at: started, ...outcome, helper: state.helper };
  for (const p of popups) p.postMessage({ type: 'state', state, lastIntercept });
  return lastIntercept;
}

// ---------------------------------------------------------------- settings and interception

async function loadSettings() {
  return withDefaults(await chrome.storage.local.get(null));
}

async function applySettings() {
  const settings = await loadSettings();
  const addRules =
    settings.interceptNavigation
      ? [
          {
            id: NAVIGATION_RULE_ID,
            priority: 1,
            condition: { regexFilter: TORRENT_NAVIGATION_REGEX, resourceTypes: ['main_frame'] },
            action: {
              type: 'redirect',
              redirect: { regexSubstitution: `${chrome.runtime.getURL('pages/intercept.html')}#\\0` },
            },
          },
        ]
      : [];
  await chrome.declarativeNetRequest
    .updateDynamicRules({ removeRuleIds: [NAVIGATION_RULE_ID], addRules })
    .catch((err) => console.warn('swarmlink: navigation rule', err));
  await chrome.contextMenus.removeAll();
  if (settings.contextMenu) {
    chrome.contextMenus.create({ id: MENU_ID, title: 'Download with Swarmlink', contexts: ['link'] });
  }
}

chrome.runtime.onInstalled.addListener(() => applySettings());
chrome.runtime.onStartup.addListener(() => applySettings());
chrome.storage.onChanged.addListener((changes, area) => {
  if (area === 'local') applySettings();
});

chrome.contextMenus.onClicked.addListener((info) => {
  if (info.menuItemId === MENU_ID && info.linkUrl) addLink(info.linkUrl, 'context-menu');
});

chrome.downloads.onCreated.addListener(async (item) => {
  if (!isTorrentDownload(item)) return;
  const settings = await loadSettings();
  if (!settings.interceptDownloads) return;
  const url = item.finalUrl || item.url;
  if (!/^https?:/i.test(url) || isLetThrough(url) || isLetThrough(item.url)) return;
  // Cancel and erase: the user should not find a stray .torrent in their downloads.
  await chrome.downloads.cancel(item.id).catch(() => {});
  await chrome.downloads.erase({ id: item.id }).catch(() => {});
  addLink(url, 'download');
});

// URLs the user asked the browser itself to handle (modifier click): the download path skips
// them and a short-lived session rule exempts them from the navigation redirect.
const LET_THROUGH_MS = 15000;
const letThrough = new Map(); // url -> expiry (ms)
let nextAllowRuleId = 1000;

function isLetThrough(url) {
  const until = letThrough.get(url);
  if (until === undefined) return false;
  if (until < Date.now()) {
    letThrough.delete(url);
    return false;
  }
  return true;
}

async function allowOnce(url) {
  letThrough.set(url, Date.now() + LET_THROUGH_MS);
  const id = nextAllowRuleId++;
  const escaped = url.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
  await chrome.declarativeNetRequest
    .updateSessionRules({
      addRules: [
        {
          id,
          priority: 2,
          condition: { regexFilter: `^${escaped}$`, resourceTypes: ['main_frame'] },
          action: { type: 'allow' },
        },
      ],
    })
    .catch((err) => console.warn('swarmlink: allow rule', err));
  setTimeout(() => {
    chrome.declarativeNetRequest.updateSessionRules({ removeRuleIds: [id] }).catch(() => {});
  }, LET_THROUGH_MS);
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || sender.id !== chrome.runtime.id) return false;
  if (message.type === 'let-through' && typeof message.url === 'string' && /^https?:/i.test(message.url)) {
    allowOnce(message.url);
    return false;
  }
  if (message.type === 'intercept' && typeof message.url === 'string') {
    addLink(message.url, message.via || 'click').then(sendResponse);
    return true;
  }
  return false;
});

// ---------------------------------------------------------------- the popup

function environment() {
  const browserName = detectBrowser({
    isFirefox: IS_FIREFOX,
    brands: (globalThis.navigator && navigator.userAgentData && navigator.userAgentData.brands) || [],
    hasBraveApi: !!(globalThis.navigator && navigator.brave),
  });
  return { browser: browserName, extensionId: chrome.runtime.id };
}

chrome.runtime.onConnect.addListener((p) => {
  if (p.name !== 'popup' || (p.sender && p.sender.id !== chrome.runtime.id)) return;
  popups.add(p);
  if (releaseTimer) clearTimeout(releaseTimer);
  p.postMessage({ type: 'state', state, lastIntercept, env: environment() });
  p.onDisconnect.addListener(() => {
    popups.delete(p);
    scheduleRelease();
  });
  p.onMessage.addListener(async (message) => {
    if (!message || typeof message !== 'object') return;
    if (message.type === 'connect') {
      if (state.helper === 'missing' || state.helper === 'broken') {
        dispatch({ type: 'helper', status: 'unknown' });
      }
      connectHelper().catch(() => {});
      return;
    }
    if (message.type === 'add-link') {
      const outcome = await addLink(String(message.url || ''), 'popup');
      reply(p, message.rid, outcome.ok, outcome.result, outcome);
      return;
    }
    if (message.type === 'command' && typeof message.cmd === 'string') {
      try {
        const result = await helperRequest(message.cmd, message.args || {});
        reply(p, message.rid, true, result);
        if (['pause', 'resume', 'remove', 'add'].includes(message.cmd) && rpc) await refreshList(rpc);
      } catch (err) {
        reply(p, message.rid, false, null, { code: err.code || 'error', error: err.message });
      }
    }
  });
});

function reply(p, rid, ok, result, error) {
  try {
    p.postMessage({ type: 'reply', rid, ok, result, error: ok ? null : error });
  } catch {}
}

// What the end-to-end tests read through the worker (and a developer from its console).
globalThis.swarmlinkDebug = () => ({ state, lastIntercept });

updateBadge();
