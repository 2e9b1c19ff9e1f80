// Chromium plays real video from the extension's player page while the torrent downloads: a
// 30 s clip made with ffmpeg (VP9/Opus WebM and H.264/AAC MP4) with a SubRip subtitle beside
// it, seeded by python3-libtorrent capped at 128 KiB/s. In the page, from a file not yet whole:
// `currentTime` advances, a seek to 80% plays on from there, the .srt arrives as a WebVTT <track> whose cues
// show, and the verified pieces are drawn under the video. A Matroska file of a codec Chromium
// lacks (MPEG-4 Part 2) says so and shows the stream link. The daemon is isolated with
// SWARMLINK_HOME and stopped by its PID. Also `ffprobe` on the stream URLs (duration and
// streams) and curl on its HTTP answers while the torrent downloads.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { builtExtension, tempDir, waitFor, launchChromium, workspaceBinaries, registerChromiumHost, stopPid, IDS } from './harness.mjs';
import { mediaToolsMissing, makeClipTorrent, startSeeder, helperRelay, fileIndices, probe, curlHead, CLIP_SECONDS } from './media.mjs';

const bins = await workspaceBinaries(['bthelper']);
const pending = bins.pending ? `pending: bthelper is not ready (${bins.pending})` : mediaToolsMissing();

let dir;
let context;
let env;
let seeder;
let relay;
let clip;
let index;
let daemonPid;

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  dir = await tempDir('chromium-media');
  const home = path.join(dir.path, 'swarmlink');
  env = { ...process.env, SWARMLINK_HOME: home, SWARMLINK_LISTEN_IP: '127.0.0.1', SWARMLINK_NO_DHT: '1', SWARMLINK_NO_LSD: '1', SWARMLINK_LOG: 'debug' };
  clip = await makeClipTorrent(path.join(dir.path, 'seed'));
  seeder = await startSeeder(clip.torrent, clip.saveDir);
  relay = helperRelay(bins.bthelper, env);
  daemonPid = (await relay.call({ cmd: 'hello', client: 'chromium-media test' })).pid;
  await relay.call({ cmd: 'add', torrent_b64: clip.bytes.toString('base64'), peers: [`127.0.0.1:${seeder.port}`] });
  index = await fileIndices(relay, clip.infoHash);
  const profile = path.join(dir.path, 'profile');
  await mkdir(profile, { recursive: true });
  await registerChromiumHost(bins.bthelper, profile);
  ({ context } = await launchChromium(out.chromium, profile, { env }));
});

after(async () => {
  await context?.close();
  relay?.close();
  seeder?.stop();
  if (env) spawnSync(bins.bthelper, ['daemon', '--stop'], { env, encoding: 'utf8', timeout: 40000 });
  stopPid(daemonPid);
  await dir?.remove();
});

/** The daemon's log lines about streams and changed files, for a failure's reader. */
async function daemonLog() {
  const log = await readFile(path.join(env.SWARMLINK_HOME, 'log/daemon.log'), 'utf8').catch(() => '');
  return log.split('\n').filter((l) => /stream|WARN|ERROR|clos|connected \(/.test(l)).slice(-40).join('\n');
}

/** Plays `file` in the player page: advances, seeks to 80% and plays on; returns the page. */
async function playAndSeek(file) {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/player.html?hash=${clip.infoHash}&file=${file}`);
  const video = page.locator('#stage video');
  await video.waitFor({ state: 'attached', timeout: 30000 }).catch(async (err) => {
    throw new Error(`${err.message}; the page says: ${await page.locator('#status').textContent()}`);
  });
  // Muted, so no autoplay policy stands in the way of a page without a user gesture.
  await page.evaluate(() => {
    const v = document.querySelector('#stage video');
    v.muted = true;
    return v.play();
  });
  const state = () => page.evaluate(() => {
    const v = document.querySelector('#stage video');
    return { t: v.currentTime, error: v.error && v.error.code, status: document.querySelector('#status').textContent };
  });
  await waitFor('playback to advance', async () => (await state()).t > 1, { timeoutMs: 60000 }).catch(async (err) => {
    throw new Error(`${err.message}; ${JSON.stringify(await state())}`);
  });
  const have = (await relay.call({ cmd: 'files', info_hash: clip.infoHash })).files.find((f) => f.index === file);
  console.log(`playing after 1 s with ${have.have_bytes} of ${have.length} bytes of ${have.path} verified`);
  const duration = await page.evaluate(() => document.querySelector('#stage video').duration);
  assert.ok(Math.abs(duration - CLIP_SECONDS) < 0.5, `duration ${duration}`);
  assert.ok(await page.evaluate(() => document.querySelector('#stage video').videoWidth === 320), 'the picture is decoded');
  await page.evaluate(() => {
    const v = document.querySelector('#stage video');
    v.currentTime = v.duration * 0.8;
  });
  const target = CLIP_SECONDS * 0.8 + 1;
  await waitFor('playback on from 80%', async () => (await state()).t > target, { timeoutMs: 60000 }).catch(async (err) => {
    throw new Error(`${err.message}; ${JSON.stringify(await state())}\n${await daemonLog()}`);
  });
  assert.equal((await state()).error, null);
  return page;
}

test('the WebM plays while it downloads, seeks to 80%, shows the .srt as WebVTT and the pieces', { skip: pending }, async () => {
  const before = (await relay.call({ cmd: 'files', info_hash: clip.infoHash })).files.find((f) => f.index === index['clip.webm']);
  assert.ok(before.have_bytes < before.length, `the WebM is still downloading (${before.have_bytes} of ${before.length})`);
  const page = await playAndSeek(index['clip.webm']);
  const track = await waitFor('the subtitle track to show its cues', () => page.evaluate(() => {
    const v = document.querySelector('#stage video');
    const el = v.querySelector('track');
    const tt = v.textTracks[0];
    if (!el || !tt || !tt.cues || tt.cues.length === 0) return null;
    const active = [...(tt.activeCues || [])].map((c) => c.text);
    return active.length && { label: el.label, kind: el.kind, mode: tt.mode, cues: tt.cues.length, active, src: el.src };
  }), { timeoutMs: 60000 });
  assert.equal(track.kind, 'subtitles');
  assert.equal(track.mode, 'showing');
  assert.equal(track.cues, CLIP_SECONDS / 2);
  assert.match(track.active[0], /^Cue 1[2-4] <i>of the clip<\/i>$/, 'the cue at the play position (after the seek)');
  assert.match(track.src, /^blob:chrome-extension:/);
  const spans = await waitFor('the pieces drawn along the seek bar', () => page.evaluate(() => {
    const c = document.querySelector('#pieces');
    return !document.querySelector('#pieces-row').hidden && c.dataset.spans && JSON.parse(c.dataset.spans);
  }));
  assert.ok(spans.length >= 1 && spans[0][0] === 0, `the start is in: ${JSON.stringify(spans)}`);
  assert.ok(spans.some(([a, b]) => a <= 0.85 && b >= 0.8), `the pieces at 80% are in: ${JSON.stringify(spans)}`);
  const painted = await page.evaluate(() => {
    const c = document.querySelector('#pieces');
    const px = c.getContext('2d').getImageData(1, 2, 1, 1).data;
    return c.width > 100 && px[3] > 0;
  });
  assert.ok(painted, 'the canvas is painted');
  await page.close();
});

test('ffprobe reads the stream URL and curl sees its HTTP answers while the torrent downloads', { skip: pending }, async () => {
  const answer = await relay.call({ cmd: 'stream_url', info_hash: clip.infoHash, file: index['clip.webm'] });
  assert.equal(answer.mime, 'video/webm');
  const status = (await relay.call({ cmd: 'list' })).torrents.find((t) => t.info_hash === clip.infoHash);
  assert.ok(status.progress < 1, `still downloading (${status.progress})`);
  const probed = probe(answer.url);
  assert.ok(Math.abs(probed.duration - CLIP_SECONDS) < 0.5, `duration ${probed.duration}`);
  assert.deepEqual(probed.codecs.sort(), ['audio:opus', 'video:vp9']);
  const mp4 = await relay.call({ cmd: 'stream_url', info_hash: clip.infoHash, file: index['clip.mp4'] });
  let mp4Probed;
  try {
    mp4Probed = probe(mp4.url);
  } catch (err) {
    // What the daemon said about its streams, for the failure's reader.
    throw new Error(`${err.message}\n${await daemonLog()}`);
  }
  assert.deepEqual(mp4Probed.codecs.sort(), ['audio:aac', 'video:h264']);

  const head = curlHead(answer.url, ['-I']);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-type'], 'video/webm');
  assert.equal(head.headers['accept-ranges'], 'bytes');
  assert.equal(Number(head.headers['content-length']), answer.length);
  const part = curlHead(answer.url, ['-r', '1000-1999']);
  assert.equal(part.status, 206);
  assert.equal(part.headers['content-range'], `bytes 1000-1999/${answer.length}`);
  assert.equal(curlHead(answer.url, ['-r', `${answer.length}-`]).status, 416);
  assert.equal(curlHead(answer.url, ['-H', 'Host: evil.example']).status, 403);
  assert.equal(curlHead(answer.url.replace(/\/stream\/[0-9a-f]{32}\//, `/stream/${'0'.repeat(32)}/`)).status, 403);
  const pieces = curlHead(answer.url.replace('/stream/', '/pieces/').replace(/\/clip\.webm$/, ''));
  assert.equal(pieces.status, 200);
  assert.equal(pieces.headers['content-type'], 'application/json');
  assert.equal(pieces.headers['access-control-allow-origin'], undefined);
});

test('the H.264/AAC MP4 plays and seeks to 80%', { skip: pending }, async () => {
  const page = await playAndSeek(index['clip.mp4']);
  await page.close();
});

test('a Matroska file of a codec the browser lacks says so and offers the stream link', { skip: pending }, async () => {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/player.html?hash=${clip.infoHash}&file=${index['odd.mkv']}`);
  await waitFor('the fallback with the link', () => page.evaluate(() => !document.querySelector('#fallback').hidden), { timeoutMs: 60000 });
  const link = await page.locator('#link').inputValue();
  assert.match(link, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/stream/[0-9a-f]{32}/${clip.infoHash}/${index['odd.mkv']}/odd\\.mkv$`));
  assert.match(await page.locator('#status').textContent(), /cannot (play|show)/);
  await page.close();
});

test('the popup offers Play for the torrent and the player picks its largest video', { skip: pending }, async () => {
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/popup.html`);
  const play = popup.locator(`li.torrent[data-hash="${clip.infoHash}"] .play-button`);
  await play.waitFor({ state: 'visible', timeout: 30000 });
  const [player] = await Promise.all([context.waitForEvent('page'), play.click()]);
  await player.waitForLoadState();
  assert.match(player.url(), new RegExp(`/pages/player\\.html\\?hash=${clip.infoHash}$`));
  const src = await waitFor('the player to pick a file', () => player.evaluate(() => document.querySelector('#stage video')?.getAttribute('src')), { timeoutMs: 30000 });
  // clip.mp4 (H.264 at 300 kb/s plus AAC at 64 kb/s) outweighs clip.webm.
  assert.match(src, /\/clip\.(mp4|webm)$/);
  const largest = (await relay.call({ cmd: 'files', info_hash: clip.infoHash })).files.filter((f) => /\.(mp4|webm|mkv)$/.test(f.path)).sort((a, b) => b.length - a.length)[0];
  assert.ok(src.endsWith(`/${largest.index}/${largest.path.split('/').pop()}`), `${src} is the largest, ${largest.path}`);
  await player.close();
  await popup.close();
});
