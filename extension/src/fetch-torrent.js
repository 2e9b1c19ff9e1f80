// Fetching a .torrent for the user: with their cookies (private trackers serve .torrent files
// only to logged-in users), capped in size while streaming, and sniffed to be bencoded.

import { MAX_TORRENT_BYTES, HelperError, looksLikeTorrent } from './lib/protocol.js';

export async function fetchTorrent(url) {
  // The user's cookies go along: private trackers serve .torrent files only to logged-in users.
  const response = await fetch(url, { credentials: 'include', redirect: 'follow', cache: 'no-store' });
  if (!response.ok) throw new HelperError('fetch', `the server answered ${response.status} for ${url}`);
  const declared = Number(response.headers.get('content-length'));
  if (declared > MAX_TORRENT_BYTES) throw new HelperError('fetch', 'the .torrent file is too large');
  // Read with a cap: a server that sends no length (or lies) cannot fill the worker's memory.
  const chunks = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_TORRENT_BYTES) {
      reader.cancel().catch(() => {});
      throw new HelperError('fetch', 'the .torrent file is too large');
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  if (!looksLikeTorrent(bytes)) throw new HelperError('not_torrent', `${url} is not a .torrent file`);
  return bytes;
}
