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

/** The player page's URL for file `index` of torrent `infoHash` (40 hex digits), or null. */
export function playerPath(infoHash, index) {
  if (!/^[0-9a-f]{40}$/i.test(String(infoHash)) || !Number.isSafeInteger(index) || index < 0) return null;
  return `pages/player.html?hash=${String(infoHash).toLowerCase()}&file=${index}`;
}

/** Reads the player page's query back: {infoHash, file} or null when it is not one of ours. */
export function parsePlayerQuery(search) {
  const q = new URLSearchParams(String(search || ''));
  const infoHash = q.get('hash') || '';
  const file = Number(q.get('file'));
  if (!/^[0-9a-f]{40}$/.test(infoHash) || !Number.isSafeInteger(file) || file < 0) return null;
  return { infoHash, file };
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
