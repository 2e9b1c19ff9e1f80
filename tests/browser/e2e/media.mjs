// Real media for the player tests: a short clip made with ffmpeg at test time (VP9/Opus WebM,
// H.264/AAC MP4, and a Matroska file of a codec browsers lack) with a SubRip subtitle beside
// it, in one multi-file torrent that python3-libtorrent seeds at a capped rate, added to the
// helper over the native-messaging protocol (a relay process, as the browser starts one).

import { spawn, spawnSync } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { REPO, IDS, waitFor } from './harness.mjs';

export const CLIP_SECONDS = 30;
/** The seeder's upload cap: about three times the clip's ~45 KB/s, so the torrent (about 3 MB)
 * is still downloading while the first video plays. */
export const SEED_RATE = 128 * 1024;

/** Whether the media tools are there; CI installs them (scripts/install-test-deps.sh). */
export function mediaToolsMissing() {
  for (const tool of ['ffmpeg', 'ffprobe', 'mktorrent']) {
    if (spawnSync(tool, ['-version'], { encoding: 'utf8' }).error) {
      const reason = `${tool} is not installed (scripts/install-test-deps.sh installs it)`;
      if (process.env.CI) throw new Error(reason);
      return `pending: ${reason}`;
    }
  }
  return false;
}

function ffmpeg(args) {
  const run = spawnSync('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args], { encoding: 'utf8', timeout: 120000 });
  if (run.status !== 0) throw new Error(`ffmpeg ${args.join(' ')}: ${run.stderr}`);
}

/** One cue every 2 s over the whole clip: "Cue N" from N*2 s to N*2+1.9 s. */
export function clipSrt(seconds = CLIP_SECONDS) {
  const t = (ms) => {
    const h = Math.floor(ms / 3600000);
    const m = Math.floor(ms / 60000) % 60;
    const s = Math.floor(ms / 1000) % 60;
    const pad = (n, w = 2) => String(n).padStart(w, '0');
    return `${pad(h)}:${pad(m)}:${pad(s)},${pad(ms % 1000, 3)}`;
  };
  const blocks = [];
  for (let n = 0; n * 2 < seconds; n++) blocks.push(`${n + 1}\r\n${t(n * 2000)} --> ${t(n * 2000 + 1900)}\r\nCue ${n} <i>of the clip</i>\r\n`);
  return blocks.join('\r\n');
}

/**
 * Makes `dir/Clip/` with clip.webm (VP9/Opus), clip.mp4 (H.264/AAC, faststart), clip.srt and
 * odd.mkv (MPEG-4 Part 2 video, which browsers do not decode), and its torrent (32 KiB
 * pieces). Returns the torrent's path, its info-hash and the files' indices by name.
 */
export async function makeClipTorrent(dir, seconds = CLIP_SECONDS) {
  const content = path.join(dir, 'Clip');
  await mkdir(content, { recursive: true });
  const video = ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', String(seconds)];
  ffmpeg([...video, '-c:v', 'libvpx-vp9', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '300k', '-g', '50', '-c:a', 'libopus', '-b:a', '48k', path.join(content, 'clip.webm')]);
  ffmpeg([...video, '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '300k', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-movflags', '+faststart', path.join(content, 'clip.mp4')]);
  ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25', '-t', '4', '-c:v', 'mpeg4', '-q:v', '5', path.join(content, 'odd.mkv')]);
  await writeFile(path.join(content, 'clip.srt'), clipSrt(seconds));
  const torrent = path.join(dir, 'clip.torrent');
  const made = spawnSync('mktorrent', ['-a', 'http://127.0.0.1:9/announce', '-l', '15', '-o', torrent, content], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`mktorrent: ${made.stderr}`);
  const bytes = await readFile(torrent);
  const at = bytes.indexOf('4:infod') + 6;
  const infoHash = createHash('sha1').update(bytes.subarray(at, bytes.length - 1)).digest('hex');
  return { torrent, bytes, infoHash, saveDir: dir };
}

/** python3-libtorrent seeding `torrent` from `saveDir`, capped at `rate` bytes/s up. */
export async function startSeeder(torrent, saveDir, rate = SEED_RATE) {
  const script = path.join(REPO, 'helper/tests/libtorrent_seeder.py');
  const child = spawn('/usr/bin/python3', [script, torrent, saveDir, String(rate)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const port = await waitFor('the libtorrent seeder to listen', () => {
    if (child.exitCode !== null) throw new Error(`the seeder exited: ${out}`);
    const m = out.match(/^(\d+)\s*$/m);
    return m && Number(m[1]);
  }, { timeoutMs: 60000 });
  return {
    port,
    // Closing its stdin ends it; the kill is for a seeder that hangs.
    stop() {
      child.stdin.end();
      setTimeout(() => child.exitCode === null && child.kill('SIGTERM'), 2000).unref();
    },
  };
}

/**
 * A native-messaging relay to the helper, as a browser starts it (`bthelper ORIGIN`): `call`
 * sends one request and resolves with its reply's result (or rejects with its error).
 */
export function helperRelay(bthelper, env) {
  const child = spawn(bthelper, [`chrome-extension://${IDS.chromium_extension_id}/`], { env, stdio: ['pipe', 'pipe', 'inherit'] });
  let buf = Buffer.alloc(0);
  const waiting = new Map();
  let nextId = 1;
  child.stdout.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 4) {
      const n = buf.readUInt32LE(0);
      if (buf.length < 4 + n) break;
      const msg = JSON.parse(buf.subarray(4, 4 + n).toString('utf8'));
      buf = buf.subarray(4 + n);
      const w = msg && waiting.get(msg.id);
      if (!w) continue;
      waiting.delete(msg.id);
      if (msg.ok) w.resolve(msg.result);
      else w.reject(Object.assign(new Error(msg.error && msg.error.message), { code: msg.error && msg.error.code }));
    }
  });
  return {
    call(request) {
      const id = nextId++;
      const body = Buffer.from(JSON.stringify({ ...request, id }), 'utf8');
      const head = Buffer.alloc(4);
      head.writeUInt32LE(body.length, 0);
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        child.stdin.write(Buffer.concat([head, body]));
      });
    },
    close() {
      child.stdin.end();
    },
  };
}

/** File indices by name, from the helper's `files` answer. */
export async function fileIndices(relay, infoHash) {
  const answer = await relay.call({ cmd: 'files', info_hash: infoHash });
  return Object.fromEntries(answer.files.map((f) => [f.path.split('/').pop(), f.index]));
}

/** `ffprobe` on a URL: the duration and the streams' codecs. */
export function probe(url) {
  const run = spawnSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration:stream=codec_name,codec_type', '-of', 'json', url], { encoding: 'utf8', timeout: 120000 });
  if (run.status !== 0) throw new Error(`ffprobe ${url}: ${run.stderr}`);
  const j = JSON.parse(run.stdout);
  return { duration: Number(j.format.duration), codecs: j.streams.map((s) => `${s.codec_type}:${s.codec_name}`) };
}

/** curl's status line and headers for a request to `url` (`-I` for HEAD), body discarded. */
export function curlHead(url, args = []) {
  const run = spawnSync('curl', ['-s', '-o', '/dev/null', '-D', '-', '--max-time', '60', ...args, url], { encoding: 'utf8', timeout: 90000 });
  if (run.status !== 0) throw new Error(`curl ${args.join(' ')} ${url}: exit ${run.status} ${run.stderr}`);
  const [status, ...lines] = run.stdout.trim().split(/\r?\n/);
  const headers = Object.fromEntries(lines.map((l) => l.split(/:\s*/, 2)).map(([k, v]) => [k.toLowerCase(), v]));
  return { status: Number(status.split(' ')[1]), headers };
}
