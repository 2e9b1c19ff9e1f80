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
  RpcClient,
  HelperError,
  addRequestFor,
  classifyDisconnect,
  detectBrowser,
  osOf,
  helperTooOld,
} from './lib/protocol.js';
import { initialState, reduce, badgeText, activeCount, notificationFor } from './lib/store.js';
import { withDefaults } from './lib/settings.js';
import { senderKind, mayMessage, mayConnect, allowedCommand, decideEntry } from './lib/consent.js';
import { diffState, fullPatch } from './lib/sync.js';
import { Confirmations } from './confirmations.js';
import { fetchTorrent } from './fetch-torrent.js';
import { isInfoHash } from './lib/choose.js';

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
const downloadsTabs = new Map(); // port -> {tabId, windowId} of open downloads pages
let lastIntercept = null;

// ---------------------------------------------------------------- state and its views

function dispatch(action) {
  const before = state;
  state = reduce(state, action);
  if (state === before) return;
  updateBadge();
  schedulePatch();
  scheduleRelease();
}

// Pages get what changed, not the whole state: with 2,000 torrents that is the difference
// between a few KB and a megabyte of JSON per progress round (lib/sync.js). Changes within
// PATCH_DELAY_MS (the parts of one progress round) go out as one message.
const PATCH_DELAY_MS = 30;
let sentState = state;
let patchTimer = null;

function schedulePatch() {
  if (patchTimer) return;
  patchTimer = setTimeout(() => {
    patchTimer = null;
    const patch = diffState(sentState, state);
    sentState = state;
    if (!patch) return;
    const message = { type: 'patch', patch };
    for (const p of popups) {
      try {
        p.postMessage(message);
      } catch {
        popups.delete(p);
      }
    }
  }, PATCH_DELAY_MS);
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
    const tooOld = helperTooOld(hello);
    if (tooOld) throw new HelperError('outdated', tooOld);
    helloDone = true;
    dispatch({ type: 'helper', status: 'ready', info: hello && typeof hello === 'object' ? hello : null });
    await refreshList(thisRpc);
    await thisRpc.request('subscribe').catch(() => {});
  })();
  ready = Promise.race([handshake, disconnected]);
  ready.catch((err) => {
    if (port === thisPort && !helloDone) {
      // hello timed out or was refused: a helper that speaks something else (or too old a
      // protocol, which the popup names as such).
      dispatch({ type: 'helper', status: err.code === 'outdated' ? 'outdated' : 'broken', error: err.message });
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

/**
 * Adds a magnet or the torrent behind an http(s) URL; `via` says which path caught it. Only
 * for a provable user action (lib/consent.js); everything else goes through `confirmations.ask`.
 * `bytes` are the torrent the user was shown on the confirm page, when there was one.
 */
async function addLink(url, via, { bytes = null, confirmed = false } = {}) {
  const started = Date.now();
  let outcome;
  try {
    const kind = classifyLink(url);
    let request;
    if (kind === 'magnet') {
      request = addRequestFor({ magnet: url });
    } else if (/^https?:/i.test(url)) {
      request = addRequestFor({ bytes: bytes || (await fetchTorrent(url)), sourceUrl: url });
    } else {
      throw new HelperError('bad_link', `not a torrent link: ${url}`);
    }
    const result = await helperRequest(request.cmd, request.args);
    outcome = { ok: true, result };
  } catch (err) {
    outcome = { ok: false, code: err.code || 'error', error: err.message || String(err) };
  }
  setLastIntercept({ via, url, at: started, confirmed, ...outcome, helper: state.helper });
  return lastIntercept;
}

function setLastIntercept(value) {
  lastIntercept = value;
}

// ---------------------------------------------------------------- the confirm page

const confirmations = new Confirmations({
  fetchTorrent,
  addLink,
  connectHelper,
  helper: () => ({ status: state.helper, settings: (state.helperInfo && state.helperInfo.settings) || null }),
  report: setLastIntercept,
});

// ---------------------------------------------------------------- settings and interception

async function loadSettings() {
  return withDefaults(await chrome.storage.local.get(null));
}

async function applySettings() {
  const settings = await loadSettings();
  // Firefox resolves the regexSubstitution to an extension URL without the page
  // (moz-extension://<uuid>/<path>, an error page), so it gets no redirect: a navigation to a
  // torrent becomes a download there, which the download path takes to the confirm page.
  const addRules =
    settings.interceptNavigation && !IS_FIREFOX
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
  if (info.menuItemId !== MENU_ID || !info.linkUrl) return;
  if (decideEntry({ via: 'context-menu' }) === 'add') addLink(info.linkUrl, 'context-menu');
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
  // A download says nothing about who started it (a scripted click, a frame, a redirect all
  // look the same): always ask.
  confirmations.ask(url, 'download', { referrer: item.referrer });
});

// URLs the user asked the browser itself to handle (modifier click): the download path skips
// them and a short-lived session rule exempts them from the navigation redirect.
const LET_THROUGH_MS = 15000;
const MAX_LET_THROUGH = 20;
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

/**
 * Lets `url` through for a moment and then does what the browser would have done with the
 * modifier click: `tab` (ctrl/cmd/middle: a background tab next to the page), `window` (shift),
 * `save` (alt: the browser's own download, which the download path now skips).
 */
async function letThroughAndDo(url, action, sender) {
  if (letThrough.size >= MAX_LET_THROUGH) return; // a flood from one renderer stays small
  await allowOnce(url);
  const tab = sender.tab || {};
  if (action === 'save') await chrome.downloads.download({ url }).catch(() => {});
  else if (action === 'window') await chrome.windows.create({ url }).catch(() => {});
  else {
    const where = typeof tab.index === 'number' ? { index: tab.index + 1, windowId: tab.windowId } : {};
    await chrome.tabs.create({ url, active: false, openerTabId: tab.id, ...where }).catch(() => {});
  }
}

async function allowOnce(url) {
  for (const [u, until] of letThrough) if (until < Date.now()) letThrough.delete(u);
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

/** What a web page's content script learns of an add: no helper error text, no local paths. */
function outcomeForPage(outcome) {
  if (outcome.ok) return { ok: true, name: (outcome.result && outcome.result.name) || null };
  const missing = outcome.helper === 'missing' || outcome.code === 'missing';
  return { ok: false, code: missing ? 'missing' : outcome.code === 'confirm' ? 'confirm' : 'error' };
}

chrome.runtime.onMessage.addListener((message, sender, sendResponse) => {
  if (!message || typeof message !== 'object') return false;
  const kind = senderKind(sender, chrome.runtime.getURL(''), chrome.runtime.id);
  if (!mayMessage(kind, message.type)) return false;
  const url = typeof message.url === 'string' ? message.url : null;
  switch (message.type) {
    case 'let-through':
      if (url && /^https?:/i.test(url)) letThroughAndDo(url, message.action, sender);
      return false;
    case 'intercept': {
      if (!url) return false;
      const decision = decideEntry({ via: 'click', trusted: message.trusted === true, topFrame: sender.frameId === 0 });
      if (decision === 'add') {
        addLink(url, 'click').then((outcome) => sendResponse(outcomeForPage(outcome)));
      } else {
        confirmations.ask(url, 'click', { referrer: sender.url }).then(() => sendResponse({ ok: false, code: 'confirm' }));
      }
      return true;
    }
    case 'navigation':
      if (!url) return false;
      confirmations.ask(url, 'navigation', { referrer: message.referrer, openTab: false }).then((id) => sendResponse({ id }));
      return true;
    case 'pending':
      confirmations.describe(message.id).then(sendResponse, () => sendResponse(null));
      return true;
    case 'confirm':
      confirmations.confirm(message.id).then(sendResponse);
      return true;
    case 'cancel':
      confirmations.cancel(message.id);
      return false;
    default:
      return false;
  }
});

// ---------------------------------------------------------------- the popup

function environment() {
  const browserName = detectBrowser({
    isFirefox: IS_FIREFOX,
    brands: (globalThis.navigator && navigator.userAgentData && navigator.userAgentData.brands) || [],
    hasBraveApi: !!(globalThis.navigator && navigator.brave),
  });
  return { browser: browserName, extensionId: chrome.runtime.id, os: osOf(globalThis.navigator && navigator.platform) };
}

chrome.runtime.onConnect.addListener((p) => {
  const kind = senderKind(p.sender, chrome.runtime.getURL(''), chrome.runtime.id);
  if (!mayConnect(kind, p.name)) {
    p.disconnect();
    return;
  }
  if (p.name === 'confirm') {
    confirmations.watch(p);
    return;
  }
  popups.add(p);
  if (kind === 'downloads' && p.sender.tab) downloadsTabs.set(p, { tabId: p.sender.tab.id, windowId: p.sender.tab.windowId });
  if (releaseTimer) clearTimeout(releaseTimer);
  p.postMessage({ type: 'patch', patch: fullPatch(state), env: environment() });
  p.onDisconnect.addListener(() => {
    popups.delete(p);
    downloadsTabs.delete(p);
    scheduleRelease();
  });
  p.onMessage.addListener(async (message) => {
    if (!message || typeof message !== 'object' || !mayMessage(kind, message.type)) return;
    if (message.type === 'connect') {
      if (state.helper === 'missing' || state.helper === 'broken') {
        dispatch({ type: 'helper', status: 'unknown' });
      }
      connectHelper().catch(() => {});
      return;
    }
    if (message.type === 'open-downloads') {
      openDownloadsPage(isInfoHash(message.choose) ? message.choose : null);
      return;
    }
    if (message.type === 'add-link') {
      const outcome = await addLink(String(message.url || ''), 'popup');
      reply(p, message.rid, outcome.ok, outcome.result, outcome);
      return;
    }
    if (message.type === 'command') {
      const args = allowedCommand(kind, message.cmd, message.args);
      if (!args) {
        reply(p, message.rid, false, null, { code: 'forbidden', error: `this page may not send ${String(message.cmd)}` });
        return;
      }
      try {
        const result = await helperRequest(message.cmd, args);
        reply(p, message.rid, true, result);
        if (['pause', 'resume', 'remove', 'add', 'queue', 'move', 'cancel_move'].includes(message.cmd)) refreshSoon();
      } catch (err) {
        reply(p, message.rid, false, null, { code: err.code || 'error', error: err.message });
      }
    }
  });
});

// A bulk action on 500 torrents is 500 commands: one list refresh after the last, not 500.
const REFRESH_DELAY_MS = 150;
let refreshTimer = null;
function refreshSoon() {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    if (rpc) refreshList(rpc).catch(() => {});
  }, REFRESH_DELAY_MS);
}

/** Focuses the open downloads page, or opens one (the popup's button, the keyboard command). */
/** Focuses the downloads page (or opens it); `choose` an info-hash to open on its file chooser. */
async function openDownloadsPage(choose = null) {
  const url = chrome.runtime.getURL(`pages/downloads.html${choose ? `#choose=${choose}` : ''}`);
  for (const where of downloadsTabs.values()) {
    try {
      // Only the hash changes for an open page: no reload, the page reads it on `hashchange`.
      await chrome.tabs.update(where.tabId, choose ? { active: true, url } : { active: true });
      await chrome.windows.update(where.windowId, { focused: true });
      return;
    } catch {
      // that tab is closing; try the next or open a new one
    }
  }
  await chrome.tabs.create({ url }).catch(() => {});
}

chrome.commands.onCommand.addListener((name) => {
  if (name === 'open-downloads') openDownloadsPage();
});

function reply(p, rid, ok, result, error) {
  try {
    p.postMessage({ type: 'reply', rid, ok, result, error: ok ? null : error });
  } catch {}
}

// What the end-to-end tests read through the worker (and a developer from its console).
globalThis.swarmlinkDebug = () => ({ state, lastIntercept });

updateBadge();
