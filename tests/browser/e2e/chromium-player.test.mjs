// Chromium plays a torrent's file from the helper's streaming server in the extension's player
// page: a WAV tone (made here, so no media tool is needed) that the daemon already has whole,
// added with `bthelper add`. The page asks `stream_url`, the <audio> element fetches the
// loopback URL (Chromium's own range requests, the Host check and the page's CSP all in the
// path), `currentTime` advances, and after a seek to 80% it plays on from there. The daemon is
// isolated with SWARMLINK_HOME and stopped by its PID.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import {
  builtExtension,
  tempDir,
  waitFor,
  launchChromium,
  workspaceBinaries,
  registerChromiumHost,
  stopPid,
  IDS,
} from './harness.mjs';

const bins = await workspaceBinaries(['bthelper']);
const pending = bins.pending ? `pending: bthelper is not ready (${bins.pending})` : false;

let dir;
let context;
let worker;
let env;

/** `seconds` of a 440 Hz tone, 16-bit mono PCM at 22,050 Hz, as a WAV file. */
function toneWav(seconds) {
  const rate = 22050;
  const samples = rate * seconds;
  const data = Buffer.alloc(samples * 2);
  for (let i = 0; i < samples; i++) data.writeInt16LE(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate)), i * 2);
  const head = Buffer.alloc(44);
  head.write('RIFF', 0);
  head.writeUInt32LE(36 + data.length, 4);
  head.write('WAVEfmt ', 8);
  head.writeUInt32LE(16, 16);
  head.writeUInt16LE(1, 20); // PCM
  head.writeUInt16LE(1, 22); // mono
  head.writeUInt32LE(rate, 24);
  head.writeUInt32LE(rate * 2, 28);
  head.writeUInt16LE(2, 32);
  head.writeUInt16LE(16, 34);
  head.write('data', 36);
  head.writeUInt32LE(data.length, 40);
  return Buffer.concat([head, data]);
}

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  dir = await tempDir('chromium-player');
  const home = path.join(dir.path, 'swarmlink');
  env = { ...process.env, SWARMLINK_HOME: home, SWARMLINK_LISTEN_IP: '127.0.0.1', SWARMLINK_NO_DHT: '1', SWARMLINK_NO_LSD: '1' };
  const profile = path.join(dir.path, 'profile');
  await mkdir(profile, { recursive: true });
  await registerChromiumHost(bins.bthelper, profile);
  ({ context, worker } = await launchChromium(out.chromium, profile, { env }));
});

after(async () => {
  const pid = await worker?.evaluate(() => globalThis.swarmlinkDebug().state.helperInfo?.pid).catch(() => null);
  await context?.close();
  if (env) spawnSync(bins.bthelper, ['daemon', '--stop'], { env, encoding: 'utf8', timeout: 40000 });
  stopPid(pid);
  await dir?.remove();
});

test('the player page plays a torrent file from the stream and seeks in it', { skip: pending }, async () => {
  const downloads = path.join(env.SWARMLINK_HOME, 'downloads');
  await mkdir(downloads, { recursive: true });
  const file = path.join(downloads, 'tone.wav');
  await writeFile(file, toneWav(20));
  const torrent = path.join(dir.path, 'tone.torrent');
  const made = spawnSync('mktorrent', ['-a', 'http://127.0.0.1:9/announce', '-l', '16', '-o', torrent, file], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);
  const bytes = await readFile(torrent);
  const at = bytes.indexOf('4:infod') + 6;
  const hash = createHash('sha1').update(bytes.subarray(at, bytes.length - 1)).digest('hex');
  const added = spawnSync(bins.bthelper, ['add', torrent], { env, encoding: 'utf8', timeout: 60000 });
  assert.equal(added.status, 0, added.stderr);

  const page = await context.newPage();
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/player.html?hash=${hash}&file=0`);
  const audio = page.locator('#stage audio');
  await audio.waitFor({ state: 'attached', timeout: 30000 }).catch(async (err) => {
    throw new Error(`${err.message}; the page says: ${await page.locator('#status').textContent()}`);
  });
  const src = await audio.getAttribute('src');
  assert.match(src, new RegExp(`^http://127\\.0\\.0\\.1:\\d+/stream/[0-9a-f]{32}/${hash}/0/tone\\.wav$`));
  assert.equal(await page.locator('#name').textContent(), 'tone.wav');
  // Muted, so no autoplay policy stands in the way of a page without a user gesture.
  await page.evaluate(() => {
    const a = document.querySelector('#stage audio');
    a.muted = true;
    return a.play();
  });
  await waitFor('playback to advance', () => page.evaluate(() => document.querySelector('#stage audio').currentTime > 1), { timeoutMs: 30000 });
  const duration = await page.evaluate(() => document.querySelector('#stage audio').duration);
  assert.ok(Math.abs(duration - 20) < 0.5, `duration ${duration}`);
  await page.evaluate(() => {
    const a = document.querySelector('#stage audio');
    a.currentTime = a.duration * 0.8;
  });
  await waitFor('playback on from 80%', () => page.evaluate(() => document.querySelector('#stage audio').currentTime > 16.5), { timeoutMs: 30000 });
  const error = await page.evaluate(() => document.querySelector('#stage audio').error);
  assert.equal(error, null);
  await page.close();
});
