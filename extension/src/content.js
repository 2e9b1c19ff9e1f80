// Content script: the first interception path. A capture-phase click listener that takes
// plain left clicks on magnet: and *.torrent links before the page or the browser acts on them.
// build.mjs inlines lib/links.js and lib/text.js above this file (content scripts cannot be
// ES modules). The page must learn nothing from us beyond "Swarmlink took this link": the
// toast lives in a closed shadow root and never carries the helper's errors or local paths.

/* global isPlainLeftClick, classifyLink, displayText */

(() => {
  let enabled = true;
  chrome.storage.local.get('interceptClicks').then(
    (stored) => {
      if (typeof stored.interceptClicks === 'boolean') enabled = stored.interceptClicks;
    },
    () => {},
  );
  chrome.storage.onChanged.addListener((changes, area) => {
    if (area === 'local' && changes.interceptClicks) enabled = changes.interceptClicks.newValue !== false;
  });

  function linkOf(event) {
    const path = typeof event.composedPath === 'function' ? event.composedPath() : [event.target];
    for (const node of path) {
      if (node && node.nodeType === 1 && node.localName === 'a' && node.href) return node;
      if (node && node.nodeType === 1 && node.localName === 'area' && node.href) return node;
    }
    return null;
  }

  // A modifier or middle click on a torrent link means "do what the browser does" (new tab, new
  // window, save link). Left to the browser, its tab or download could start before the
  // background has let the URL through its other two paths (a race that sent ctrl-clicks to the
  // confirm page), so the background does the browser's part itself, right after.
  function letThrough(event) {
    if (!enabled || !event.isTrusted || event.defaultPrevented || isPlainLeftClick(event)) return;
    if (event.button !== 0 && event.button !== 1) return;
    const link = linkOf(event);
    if (!link || classifyLink(String(link.href)) !== 'torrent') return;
    event.preventDefault();
    event.stopImmediatePropagation();
    const action = event.altKey ? 'save' : event.shiftKey ? 'window' : 'tab';
    chrome.runtime.sendMessage({ type: 'let-through', url: String(link.href), action }).catch(() => {});
  }
  window.addEventListener('auxclick', letThrough, true);

  window.addEventListener(
    'click',
    (event) => {
      if (!enabled) return;
      if (!isPlainLeftClick(event)) {
        letThrough(event);
        return;
      }
      const link = linkOf(event);
      if (!link) return;
      const url = String(link.href);
      // A link the page marks as a torrent (the tracker's listing does) counts too, but only
      // for a trusted click: anything else still reaches the browser and its confirm paths.
      const typed = /^https?:/i.test(url) && String(link.type || '').toLowerCase() === 'application/x-bittorrent';
      const kind = classifyLink(url) || (typed ? 'torrent' : null);
      if (!kind) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      toast('pending', 'Sending to Swarmlink…');
      // `trusted` is false for a link the user cannot see (a near-transparent link laid over
      // the page): the background then asks on its confirm page instead of adding at once.
      const trusted = event.isTrusted === true && isVisible(link);
      chrome.runtime.sendMessage({ type: 'intercept', url, trusted }).then(
        (outcome) => {
          if (outcome && outcome.ok) {
            toast('ok', outcome.name ? `Downloading “${displayText(outcome.name, 120)}” with Swarmlink` : 'Sent to Swarmlink');
          } else if (outcome && outcome.code === 'confirm') {
            toast('confirm', 'Swarmlink opened a tab to confirm this download.');
          } else if (outcome && outcome.code === 'missing') {
            toast('missing', 'Swarmlink’s helper app is not installed. Open the Swarmlink toolbar button for setup steps.');
          } else {
            toast('error', 'Swarmlink could not add this torrent. Open the Swarmlink toolbar button for details.');
          }
        },
        () => toast('error', 'Swarmlink is unavailable.'),
      );
    },
    true,
  );

  // Opacity multiplies down the tree: a link is visible when every ancestor is mostly opaque and
  // the browser renders it at all.
  function isVisible(link) {
    if (typeof link.checkVisibility === 'function' && !link.checkVisibility({ opacityProperty: true, visibilityProperty: true })) {
      return false;
    }
    let opacity = 1;
    for (let node = link; node && node.nodeType === 1; node = node.parentElement) {
      opacity *= Number(getComputedStyle(node).opacity) || 0;
    }
    return opacity >= 0.5;
  }

  // A small notice in the page's corner. The shadow root is closed, so the page can neither
  // style nor read it (only its `data-kind`, one word, is on the host element).
  let host = null;
  let box = null;
  let hideTimer = null;
  function toast(kind, text) {
    if (!host || !host.isConnected) {
      host = document.createElement('swarmlink-toast');
      const root = host.attachShadow({ mode: 'closed' });
      const style = document.createElement('style');
      style.textContent = `
        :host { all: initial; position: fixed; z-index: 2147483647; right: 16px; bottom: 16px; }
        div { font: 13px/1.4 system-ui, sans-serif; max-width: 360px; padding: 10px 14px; border-radius: 10px;
              color: #fff; background: #1f2937; box-shadow: 0 6px 24px rgba(0,0,0,.25); }
        div[data-kind=ok] { background: #146c2e; }
        div[data-kind=error], div[data-kind=missing] { background: #8c1d18; }`;
      box = document.createElement('div');
      box.setAttribute('role', 'status');
      box.setAttribute('aria-live', 'polite');
      root.append(style, box);
      (document.body || document.documentElement).append(host);
    }
    box.dataset.kind = kind;
    box.textContent = text;
    host.dataset.kind = kind;
    if (hideTimer) clearTimeout(hideTimer);
    if (kind !== 'pending') hideTimer = setTimeout(() => host && host.remove(), 8000);
  }
})();
