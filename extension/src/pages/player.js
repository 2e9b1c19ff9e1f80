// The player page: asks the helper for the stream URL of one file (`stream_url`) and plays it
// in a <video> or <audio> element while the torrent downloads; the helper serves only verified
// bytes and fetches the pieces at the play position first. "Copy stream link" hands the URL
// to VLC or mpv. A file the browser cannot decode says so and offers the link.

import { translator, localize } from '../lib/i18n.js';
import { displayText } from '../lib/text.js';
import { parsePlayerQuery, mediaKind, isStreamUrl } from '../lib/media.js';

const t9n = translator((key, subs) => chrome.i18n.getMessage(key, subs));
localize(document, t9n);

const status = document.getElementById('status');
const copy = document.getElementById('copy');
const say = (kind, text) => {
  status.dataset.kind = kind;
  status.textContent = text;
};

// The background answers every command; this bound is for a background that went away.
const COMMAND_TIMEOUT_MS = 60000;
const port = chrome.runtime.connect({ name: 'popup' });
let nextRid = 1;
const pending = new Map();
port.onMessage.addListener((m) => {
  if (!m || m.type !== 'reply' || !pending.has(m.rid)) return;
  const { resolve, reject, timer } = pending.get(m.rid);
  pending.delete(m.rid);
  clearTimeout(timer);
  if (m.ok) resolve(m.result);
  else reject(new Error((m.error && m.error.error) || 'failed'));
});
function command(cmd, args) {
  const rid = nextRid++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      pending.delete(rid);
      reject(new Error(`no answer to ${cmd}`));
    }, COMMAND_TIMEOUT_MS);
    pending.set(rid, { resolve, reject, timer });
    port.postMessage({ type: 'command', cmd, args, rid });
  });
}

async function start() {
  const query = parsePlayerQuery(location.search);
  if (!query) return say('error', t9n('playerBadLink'));
  port.postMessage({ type: 'connect' });
  let answer;
  try {
    answer = await command('stream_url', { info_hash: query.infoHash, file: query.file });
  } catch (err) {
    return say('error', t9n('playerError', err.message));
  }
  if (!answer || !isStreamUrl(answer.url)) return say('error', t9n('playerError', 'no stream URL'));
  const name = displayText(String(answer.name || ''));
  document.getElementById('name').textContent = name;
  document.title = name;
  copy.disabled = false;
  copy.addEventListener('click', async () => {
    await navigator.clipboard.writeText(answer.url);
    say('ok', t9n('playerCopied'));
  });
  const media = document.createElement(mediaKind(answer.name));
  media.controls = true;
  media.autoplay = true;
  media.preload = 'auto';
  media.addEventListener('waiting', () => say('', t9n('playerBuffering')));
  media.addEventListener('playing', () => say('', ''));
  media.addEventListener('error', () => say('error', t9n('playerCannotDecode')));
  media.src = answer.url;
  document.getElementById('stage').append(media);
  say('', t9n('playerBuffering'));
}

start();
