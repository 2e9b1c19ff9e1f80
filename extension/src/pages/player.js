// The player page: asks the helper for the stream URL of one file (`stream_url`) and plays it
// in a <video> or <audio> element while the torrent downloads; the helper serves only verified
// bytes and fetches the pieces at the play position first. Subtitles shipped beside the video
// (.srt converted to WebVTT, .vtt as they are) become <track>s; the pieces the helper has are
// drawn under the video along its seek bar. "Copy stream link" hands the URL to VLC or mpv, and
// a file the browser cannot decode says so and shows the link.

import { translator, localize } from '../lib/i18n.js';
import { displayText } from '../lib/text.js';
import { parsePlayerQuery, mediaKind, isStreamUrl, largestPlayable, piecesUrlFor } from '../lib/media.js';
import { subtitlesFor, srtToVtt, MAX_SUBTITLE_BYTES } from '../lib/subtitles.js';
import { pieceSpans, drawPieces, coverage } from '../lib/seekbar.js';
import { formatPercent } from '../lib/format.js';

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
/** How often the piece map is asked again while pieces are missing, and once all are in. */
const PIECES_EVERY_MS = 1000;
const PIECES_DONE_EVERY_MS = 10000;
/** The most `files` pages asked for one torrent (the helper splits long lists). */
const MAX_FILE_PAGES = 50;

const port = chrome.runtime.connect({ name: 'popup' });
let nextRid = 1;
const pending = new Map();
port.onMessage.addListener((m) => {
  if (!m || m.type !== 'reply' || !pending.has(m.rid)) return;
  const { resolve, reject, timer } = pending.get(m.rid);
  pending.delete(m.rid);
  clearTimeout(timer);
  if (m.ok) resolve(m.result);
  else reject(Object.assign(new Error((m.error && m.error.error) || 'failed'), { code: m.error && m.error.code }));
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

/** The torrent's file list, or [] when the helper does not list files (older helpers). */
async function fileList(infoHash) {
  const files = [];
  let offset = 0;
  for (let page = 0; page < MAX_FILE_PAGES; page++) {
    let answer;
    try {
      answer = await command('files', { info_hash: infoHash, offset });
    } catch {
      return files;
    }
    files.push(...((answer && answer.files) || []));
    if (!answer || !Number.isSafeInteger(answer.next_offset)) break;
    offset = answer.next_offset;
  }
  return files;
}

/** Shows the stream link for another player, selected, when this browser cannot play it. */
function offerLink(url, key) {
  say('error', t9n(key));
  const link = document.getElementById('link');
  link.value = url;
  document.getElementById('fallback').hidden = false;
  link.select();
}

/** Each subtitle file beside the video as a <track>, fetched once its pieces are in. */
async function addSubtitles(media, infoHash, subs) {
  let first = true;
  for (const sub of subs) {
    try {
      const answer = await command('stream_url', { info_hash: infoHash, file: sub.index });
      if (!answer || !isStreamUrl(answer.url) || answer.length > MAX_SUBTITLE_BYTES) continue;
      const res = await fetch(answer.url, { credentials: 'omit', cache: 'no-store' });
      if (!res.ok) continue;
      const text = await res.text();
      const vtt = sub.format === 'srt' ? srtToVtt(text) : text;
      const track = document.createElement('track');
      track.kind = 'subtitles';
      track.label = displayText(sub.label || sub.name);
      if (sub.lang) track.srclang = sub.lang;
      track.src = URL.createObjectURL(new Blob([vtt], { type: 'text/vtt' }));
      if (first) track.default = true;
      media.append(track);
      if (first) {
        // A track added after the media loaded is not shown by `default` alone.
        track.track.mode = 'showing';
        first = false;
      }
    } catch {
      // a subtitle that cannot be had leaves the video playing without it
    }
  }
}

/** Polls the helper's piece map and draws it under the video, along its seek bar. */
function watchPieces(streamUrl, media) {
  const url = piecesUrlFor(streamUrl);
  const row = document.getElementById('pieces-row');
  const canvas = document.getElementById('pieces');
  const text = document.getElementById('pieces-text');
  if (!url || !canvas.getContext) return;
  const css = getComputedStyle(document.documentElement);
  const colors = {
    track: css.getPropertyValue('--pieces-track').trim() || '#8884',
    have: css.getPropertyValue('--pieces-have').trim() || '#2a7de1',
  };
  let spans = null;
  const draw = () => {
    if (!spans) return;
    const width = Math.max(1, Math.round(canvas.clientWidth || media.clientWidth || 300));
    if (canvas.width !== width) canvas.width = width;
    drawPieces(canvas.getContext('2d'), canvas.width, canvas.height, spans, colors);
  };
  const tick = async () => {
    let done = false;
    try {
      const res = await fetch(url, { credentials: 'omit', cache: 'no-store' });
      if (res.ok) {
        const next = pieceSpans(await res.json());
        if (next) {
          spans = next;
          const have = coverage(spans);
          done = have >= 0.999999;
          row.hidden = false;
          canvas.dataset.spans = JSON.stringify(spans.map(([a, b]) => [Number(a.toFixed(4)), Number(b.toFixed(4))]));
          text.textContent = t9n('playerPiecesHave', formatPercent(have));
          draw();
        }
      }
    } catch {
      // the helper restarted or went away: the stream itself reports that
    }
    setTimeout(tick, done ? PIECES_DONE_EVERY_MS : PIECES_EVERY_MS);
  };
  addEventListener('resize', draw);
  tick();
}

async function start() {
  const query = parsePlayerQuery(location.search);
  if (!query) return say('error', t9n('playerBadLink'));
  port.postMessage({ type: 'connect' });
  const files = await fileList(query.infoHash);
  let file = query.file;
  if (file === null) {
    const best = largestPlayable(files);
    if (!best) return say('error', t9n('playerNothingToPlay'));
    file = best.index;
  }
  let answer;
  try {
    answer = await command('stream_url', { info_hash: query.infoHash, file });
  } catch (err) {
    return say('error', t9n('playerError', err.message));
  }
  if (!answer || !isStreamUrl(answer.url)) return say('error', t9n('playerError', 'no stream URL'));
  const name = displayText(String(answer.name || ''));
  document.getElementById('name').textContent = name;
  document.title = name;
  copy.disabled = false;
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(answer.url);
      say('ok', t9n('playerCopied'));
    } catch {
      offerLink(answer.url, 'playerCopyByHand');
    }
  });
  const kind = mediaKind(answer.name);
  const media = document.createElement(kind);
  media.controls = true;
  media.autoplay = true;
  media.preload = 'auto';
  let failed = false;
  media.addEventListener('waiting', () => failed || say('', t9n('playerBuffering')));
  media.addEventListener('playing', () => failed || say('', ''));
  media.addEventListener('error', () => {
    failed = true;
    offerLink(answer.url, 'playerCannotDecode');
  });
  // A container the browser opens but whose video codec it lacks plays sound without a picture.
  media.addEventListener('loadedmetadata', () => {
    if (kind === 'video' && media.videoWidth === 0 && media.canPlayType(answer.mime) === '') {
      failed = true;
      offerLink(answer.url, 'playerNoPicture');
    }
  });
  media.src = answer.url;
  document.getElementById('stage').append(media);
  say('', t9n('playerBuffering'));
  watchPieces(answer.url, media);
  if (kind === 'video') addSubtitles(media, query.infoHash, subtitlesFor(files, file));
}

start();
