// The browser boundary: who may make the extension do what. Pure (node-tested); background.js
// applies it to real senders.
//
// A torrent is added at once only on a provable user action:
//   - the context menu item (the browser reports it; no page can fake it),
//   - a control in the extension's own pages (popup, confirm page), identified by `sender.url`,
//   - a plain left click that the content script saw with `isTrusted`, in a tab's top frame.
// The last one rests on the content script's word. A page's script cannot forge `isTrusted` in
// the content script's isolated world, but a compromised renderer can send any message: that
// is where the line is drawn. Such a renderer gets "the user clicked this link in this tab",
// no more: the background still fetches and checks the torrent itself, the helper's other
// commands stay out of reach (content scripts may send only `intercept` and `let-through`),
// and a click in a subframe (which could be an invisible frame laid over the page) goes to the
// confirm page. Everything else (browser downloads, navigations, redirects, anything not
// provably a user action) opens the confirm page, which shows what, where and from whom.

/** Extension pages by file; anything else with an http(s) URL and a tab is a content script. */
const PAGES = {
  'pages/popup.html': 'popup',
  'pages/options.html': 'options',
  'pages/downloads.html': 'downloads',
  'pages/confirm.html': 'confirm',
  'pages/intercept.html': 'intercept',
  'pages/player.html': 'player',
};

/**
 * What each sender may ask: `port` the name of the long-lived port it may open (the popup's
 * carries state and commands; the confirm page's only says it is still open), `messages` the
 * runtime message / port message types, `commands` the helper commands it may relay
 * (`command` messages). Each page gets only what it uses.
 */
export const PERMISSIONS = {
  popup: {
    port: 'popup',
    messages: ['connect', 'add-link', 'command', 'open-downloads'],
    commands: ['list', 'pause', 'resume', 'remove', 'open', 'reveal', 'add', 'hello', 'cancel_move'],
  },
  // The downloads page: the popup's commands on many torrents, the detail pane's questions
  // (files, peers, trackers, pieces), priorities, queue order, choosing the files of a torrent
  // that waits for it (`select`), and moving to a folder the helper allows (it checks
  // `save_dir` against its own settings); it reads the settings to offer those folders. It
  // adds nothing.
  downloads: {
    port: 'popup',
    messages: ['connect', 'command'],
    commands: ['list', 'pause', 'resume', 'remove', 'open', 'reveal', 'files', 'priority', 'select', 'queue', 'move', 'cancel_move', 'peers', 'trackers', 'pieces', 'get_settings'],
  },
  // The player page reads the torrent's file list (to pick the file and find its subtitles) and
  // asks for stream URLs; the helper checks the torrent and the file.
  player: { port: 'popup', messages: ['connect', 'command'], commands: ['files', 'stream_url'] },
  options: { port: 'popup', messages: ['connect', 'command'], commands: ['get_settings', 'set_settings'] },
  confirm: { port: 'confirm', messages: ['pending', 'confirm', 'cancel'], commands: [] },
  intercept: { port: null, messages: ['navigation'], commands: [] },
  content: { port: null, messages: ['intercept', 'let-through'], commands: [] },
};

/**
 * Which sender this is: 'popup' | 'options' | 'downloads' | 'confirm' | 'intercept' | 'content' | null.
 * `sender` is a runtime.MessageSender; `extensionBase` is `runtime.getURL('')`; `ownId` the
 * extension's id. `sender.id` alone proves nothing (content scripts share it): an extension page
 * is told by its URL, which the browser sets from the frame that sent the message.
 */
export function senderKind(sender, extensionBase, ownId) {
  if (!sender || sender.id !== ownId || typeof sender.url !== 'string') return null;
  if (sender.url.startsWith(extensionBase)) {
    const file = sender.url.slice(extensionBase.length).split(/[?#]/)[0];
    return PAGES[file] || null;
  }
  if (/^https?:\/\//i.test(sender.url) && sender.tab && typeof sender.tab.id === 'number') return 'content';
  return null;
}

/** Whether `kind` may send a message of `type`. */
export function mayMessage(kind, type) {
  const p = kind && PERMISSIONS[kind];
  return !!p && p.messages.includes(type);
}

/** Whether `kind` may open a port named `name`. */
export function mayConnect(kind, name) {
  return !!(kind && PERMISSIONS[kind] && PERMISSIONS[kind].port && PERMISSIONS[kind].port === name);
}

/**
 * The helper request `kind` may make for `cmd` with `args`, or null when it may not. The
 * popup's `add` carries the torrent only: a save directory, peers or a URL for the daemon to
 * fetch are not the popup's to choose.
 */
export function allowedCommand(kind, cmd, args) {
  const p = kind && PERMISSIONS[kind];
  if (!p || typeof cmd !== 'string' || !p.commands.includes(cmd)) return null;
  const a = args && typeof args === 'object' && !Array.isArray(args) ? args : {};
  if (cmd === 'add') {
    if (typeof a.torrent_b64 === 'string') return { torrent_b64: a.torrent_b64 };
    if (typeof a.magnet === 'string') return { magnet: a.magnet };
    return null;
  }
  return { ...a };
}

/**
 * 'add' (at once) or 'confirm' (open the confirm page) for a torrent link that arrived by `via`:
 *   'context-menu' | 'popup' -> add;
 *   'click' -> add only when `trusted` (the content script saw `isTrusted`) and `topFrame`;
 *   'download' | 'navigation' | anything else -> confirm.
 */
export function decideEntry({ via, trusted = false, topFrame = false } = {}) {
  if (via === 'context-menu' || via === 'popup') return 'add';
  if (via === 'click' && trusted === true && topFrame === true) return 'add';
  return 'confirm';
}

/** The origin to show as "from": the referring page's if known, else the link's own. */
export function sourceSite(url, referrer) {
  for (const candidate of [referrer, url]) {
    try {
      const u = new URL(String(candidate || ''));
      if (u.protocol === 'http:' || u.protocol === 'https:') return u.origin;
    } catch {}
  }
  return null;
}
