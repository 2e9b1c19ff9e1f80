// Which links Swarmlink takes over. Pure: shared by the content script (inlined by build.mjs),
// the background and node's tests, so it may not touch any browser API.

/** True for a `magnet:` URI that names a BitTorrent info-hash. */
export function isMagnet(url) {
  return typeof url === 'string' && /^magnet:\?(.*&)?xt=urn:bt(ih|mh):/i.test(url.trim());
}

/** True for an http(s) URL whose path (not query or fragment) ends in `.torrent`. */
export function isTorrentUrl(url) {
  if (typeof url !== 'string') return false;
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return false;
  return /\.torrent$/i.test(decodeURIComponentSafe(parsed.pathname));
}

function decodeURIComponentSafe(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** "magnet" | "torrent" | null: what kind of torrent link `url` is. */
export function classifyLink(url) {
  if (isMagnet(url)) return 'magnet';
  if (isTorrentUrl(url)) return 'torrent';
  return null;
}

/**
 * Whether a click should be intercepted: only a plain, primary-button click by the user that
 * nobody has already handled. Middle clicks, ctrl/cmd (new tab), shift (new window) and alt
 * (save) keep the browser's behaviour. A click a page script synthesised (`isTrusted` false)
 * is not the user's say-so: it falls through to the browser (and, for a .torrent, to the
 * confirming intercept page).
 */
export function isPlainLeftClick(event) {
  return (
    event.isTrusted === true &&
    event.button === 0 &&
    !event.ctrlKey &&
    !event.metaKey &&
    !event.shiftKey &&
    !event.altKey &&
    !event.defaultPrevented
  );
}

/** True when a finished browser download item is a torrent we should take over. */
export function isTorrentDownload(item) {
  if (!item) return false;
  const mime = String(item.mime || '').toLowerCase().split(';')[0].trim();
  if (mime === 'application/x-bittorrent') return true;
  const url = item.finalUrl || item.url || '';
  return isTorrentUrl(url) || /\.torrent$/i.test(String(item.filename || ''));
}

/** A regular expression (RE2 and JS compatible) matching top-level `.torrent` navigations. */
export const TORRENT_NAVIGATION_REGEX = '^https?://[^?#]*\\.[Tt][Oo][Rr][Rr][Ee][Nn][Tt]([?#].*)?$';

/** The URL a declarativeNetRequest redirect carried in the intercept page's fragment. */
export function urlFromInterceptHash(hash) {
  const raw = String(hash || '').replace(/^#/, '');
  if (!raw) return null;
  const candidate = /^https?%3A/i.test(raw) ? decodeURIComponentSafe(raw) : raw;
  return classifyLink(candidate) ? candidate : null;
}
