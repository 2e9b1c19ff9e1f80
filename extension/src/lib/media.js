// Which files get a Play button: those a browser's <video>/<audio> may decode, by extension.
// A Matroska file may hold codecs the browser lacks; the player page says so when it fails.

const PLAYABLE = new Set(['mp4', 'm4v', 'webm', 'mkv', 'mov', 'ogv', 'ogg', 'oga', 'opus', 'mp3', 'm4a', 'aac', 'flac', 'wav']);
const AUDIO = new Set(['ogg', 'oga', 'opus', 'mp3', 'm4a', 'aac', 'flac', 'wav']);

function extension(name) {
  const s = String(name || '');
  const dot = s.lastIndexOf('.');
  return dot < 0 ? '' : s.slice(dot + 1).toLowerCase();
}

/** Whether a file named `name` is video or audio worth offering to play. */
export function isPlayable(name) {
  return PLAYABLE.has(extension(name));
}

/** 'audio' or 'video': which element the player page uses. */
export function mediaKind(name) {
  return AUDIO.has(extension(name)) ? 'audio' : 'video';
}

/**
 * The player page's URL for file `index` of torrent `infoHash` (40 hex digits), or null; with
 * `index` null the page plays the torrent's largest video or audio file (the popup's Play).
 */
export function playerPath(infoHash, index = null) {
  if (!/^[0-9a-f]{40}$/i.test(String(infoHash))) return null;
  const hash = String(infoHash).toLowerCase();
  if (index === null) return `pages/player.html?hash=${hash}`;
  if (!Number.isSafeInteger(index) || index < 0) return null;
  return `pages/player.html?hash=${hash}&file=${index}`;
}

/**
 * Reads the player page's query back: {infoHash, file} (file null when the page is to pick)
 * or null when it is not one of ours.
 */
export function parsePlayerQuery(search) {
  const q = new URLSearchParams(String(search || ''));
  const infoHash = q.get('hash') || '';
  if (!/^[0-9a-f]{40}$/.test(infoHash)) return null;
  if (!q.has('file')) return { infoHash, file: null };
  const raw = q.get('file');
  const file = Number(raw);
  if (raw === '' || !Number.isSafeInteger(file) || file < 0) return null;
  return { infoHash, file };
}

/** The torrent's largest video or audio file in a `files` answer's list, or null. */
export function largestPlayable(files) {
  let best = null;
  for (const f of Array.isArray(files) ? files : []) {
    const name = f && typeof f.path === 'string' ? f.path.slice(f.path.lastIndexOf('/') + 1) : '';
    if (isPlayable(name) && Number.isSafeInteger(f.index) && (!best || f.length > best.length)) best = f;
  }
  return best;
}

/**
 * Whether a Play button goes on a torrent named `name` in the popup (which knows no file list):
 * a single video or audio file, or a folder (a name without a file extension), where the player
 * looks for one.
 */
export function mayHoldMedia(name) {
  const s = String(name || '');
  return isPlayable(s) || !/\.[a-z0-9]{1,5}$/i.test(s);
}

/** The helper's piece map URL beside a stream URL (`/pieces/TOKEN/HASH/INDEX`), or null. */
export function piecesUrlFor(streamUrl) {
  if (!isStreamUrl(streamUrl)) return null;
  const u = new URL(streamUrl);
  const parts = u.pathname.split('/');
  if (parts.length < 5) return null;
  u.pathname = ['', 'pieces', parts[2], parts[3], parts[4]].join('/');
  u.search = '';
  u.hash = '';
  return u.href;
}

/** Only a stream URL of the helper's loopback server is ever put into the player. */
export function isStreamUrl(url) {
  try {
    const u = new URL(String(url));
    return u.protocol === 'http:' && (u.hostname === '127.0.0.1' || u.hostname === '[::1]') && u.pathname.startsWith('/stream/');
  } catch {
    return false;
  }
}
