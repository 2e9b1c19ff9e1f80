// Content script: the first interception path. A capture-phase click listener that takes
// plain left clicks on magnet: and *.torrent links before the page or the browser acts on them.
// build.mjs inlines lib/links.js above this file (content scripts cannot be ES modules).

/* global isPlainLeftClick, classifyLink */

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

  // A modifier or middle click on a torrent link means "do what the browser does" (new tab,
  // save link): tell the background to let this URL through its other two paths for a moment.
  function letThrough(event) {
    if (!enabled || !event.isTrusted || isPlainLeftClick(event)) return;
    const link = linkOf(event);
    if (link && classifyLink(String(link.href)) === 'torrent') {
      chrome.runtime.sendMessage({ type: 'let-through', url: String(link.href) }).catch(() => {});
    }
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
      const kind = classifyLink(url);
      if (!kind) return;
      event.preventDefault();
      event.stopImmediatePropagation();
      toast('pending', 'Sending to Swarmlink…');
      chrome.runtime.sendMessage({ type: 'intercept', url, via: 'click' }).then(
        (outcome) => {
          if (outcome && outcome.ok) {
            const name = outcome.result && outcome.result.name;
            toast('ok', name ? `Downloading “${name}” with Swarmlink` : 'Sent to Swarmlink');
          } else {
            const missing = outcome && (outcome.helper === 'missing' || outcome.code === 'missing');
            toast(
              missing ? 'missing' : 'error',
              missing
                ? 'Swarmlink’s helper app is not installed. Open the Swarmlink toolbar button for setup steps.'
                : `Swarmlink could not add this torrent: ${(outcome && outcome.error) || 'unknown error'}`,
            );
          }
        },
        (err) => toast('error', `Swarmlink is unavailable: ${err.message}`),
      );
    },
    true,
  );

  // A small notice in the page's corner, in a shadow root so page styles cannot touch it.
  let host = null;
  let hideTimer = null;
  function toast(kind, text) {
    if (!host || !host.isConnected) {
      host = document.createElement('swarmlink-toast');
      const root = host.attachShadow({ mode: 'open' });
      const style = document.createElement('style');
      style.textContent = `
        :host { all: initial; position: fixed; z-index: 2147483647; right: 16px; bottom: 16px; }
        div { font: 13px/1.4 system-ui, sans-serif; max-width: 360px; padding: 10px 14px; border-radius: 10px;
              color: #fff; background: #1f2937; box-shadow: 0 6px 24px rgba(0,0,0,.25); }
        div[data-kind=ok] { background: #146c2e; }
        div[data-kind=error], div[data-kind=missing] { background: #8c1d18; }`;
      const box = document.createElement('div');
      box.setAttribute('role', 'status');
      box.setAttribute('aria-live', 'polite');
      root.append(style, box);
      (document.body || document.documentElement).append(host);
    }
    const box = host.shadowRoot.querySelector('div');
    box.dataset.kind = kind;
    box.textContent = text;
    host.dataset.kind = kind;
    if (hideTimer) clearTimeout(hideTimer);
    if (kind !== 'pending') hideTimer = setTimeout(() => host && host.remove(), 8000);
  }
})();
