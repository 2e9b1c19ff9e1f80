// Firefox ESR plays real video in the player page while the torrent downloads: the same clip as
// chromium-media.test.mjs (ffmpeg's VP9/Opus WebM and H.264/AAC MP4 with a .srt beside them,
// python3-libtorrent seeding at 128 KiB/s, the real daemon). WebDriver BiDi cannot open
// moz-extension:// pages, so the built page (dist/firefox) is served from a loopback web server
// with a stand-in for the extension APIs whose `runtime.connect` port relays the page's commands
// (`files`, `stream_url`) to the real daemon over native messaging, as the background does. The
// page being a web page there, the same server passes /stream/ and /pieces/ through to the
// daemon's streaming server (rewriting `Host`), since a web origin may not read that server
// (no CORS, by design) while an extension page may. Gecko's own range requests, decoding and
// seeking all run against the daemon. Checked: `currentTime` advances, a seek to 80% plays on,
// the .srt shows as a WebVTT track with cues, the pieces are drawn, and the Matroska file of a
// codec Firefox lacks says so with its link.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { builtExtension, tempDir, launchFirefox, waitFor, workspaceBinaries, stopPid } from './harness.mjs';
import { mediaToolsMissing, makeClipTorrent, startSeeder, helperRelay, fileIndices, CLIP_SECONDS } from './media.mjs';

const bins = await workspaceBinaries(['bthelper']);
const pending = bins.pending ? `pending: bthelper is not ready (${bins.pending})` : mediaToolsMissing();
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.png': 'image/png', '.json': 'application/json', '.svg': 'image/svg+xml' };

/** The stand-in for the extension APIs: i18n over messages.json, a port relaying commands. */
function shim(messages) {
  return `(() => {
  const MESSAGES = ${JSON.stringify(messages)};
  const getMessage = (key, subs = []) => {
    const e = MESSAGES[key];
    if (!e) return '';
    return e.message
      .replace(/\\$([A-Za-z0-9_]+)\\$/g, (m, n) => (e.placeholders && e.placeholders[n.toLowerCase()] ? e.placeholders[n.toLowerCase()].content : m))
      .replace(/\\$(\\d)/g, (m, d) => String(subs[Number(d) - 1] ?? ''));
  };
  let listener = () => {};
  const port = {
    onMessage: { addListener(f) { listener = f; } },
    onDisconnect: { addListener() {} },
    async postMessage(msg) {
      if (msg.type !== 'command') return;
      const res = await fetch('/helper', { method: 'POST', body: JSON.stringify({ cmd: msg.cmd, ...msg.args }) });
      const answer = await res.json();
      listener({ type: 'reply', rid: msg.rid, ok: answer.ok, result: answer.result, error: answer.error });
    },
  };
  globalThis.chrome = { i18n: { getMessage, getUILanguage: () => 'en' }, runtime: { connect: () => port } };
})();`;
}

async function filesOf(dir, prefix = '') {
  const out = {};
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await filesOf(dir, rel));
    else out[`/${rel}`] = { type: TYPES[path.extname(entry.name)] || 'application/octet-stream', body: await readFile(path.join(dir, rel)) };
  }
  return out;
}

/**
 * The page's server: the built extension, the shim, `/helper` (a command for the daemon), and
 * /stream/ and /pieces/ passed through to the daemon's streaming server.
 */
async function pageServer(routes, relay) {
  let daemonPort = null;
  const server = http.createServer(async (req, res) => {
    const url = req.url.split('?')[0];
    if (url === '/helper' && req.method === 'POST') {
      let body = '';
      for await (const chunk of req) body += chunk;
      let answer;
      try {
        const result = await relay.call(JSON.parse(body));
        if (result && typeof result.url === 'string') {
          // The stream's own URL, made same-origin for this web page.
          const u = new URL(result.url);
          daemonPort = Number(u.port);
          result.url = `http://127.0.0.1:${server.address().port}${u.pathname}`;
        }
        answer = { ok: true, result };
      } catch (err) {
        answer = { ok: false, error: { code: err.code, error: err.message } };
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(answer));
      return;
    }
    if ((url.startsWith('/stream/') || url.startsWith('/pieces/')) && daemonPort) {
      const headers = { ...req.headers, host: `127.0.0.1:${daemonPort}` };
      const upstream = http.request({ host: '127.0.0.1', port: daemonPort, path: req.url, method: req.method, headers }, (up) => {
        res.writeHead(up.statusCode, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      res.on('close', () => upstream.destroy());
      upstream.end();
      return;
    }
    const route = routes[url];
    if (!route) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': route.type });
    res.end(route.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

let dir;
let env;
let seeder;
let relay;
let clip;
let index;
let daemonPid;
let web;
let browser;

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  dir = await tempDir('firefox-media');
  env = { ...process.env, SWARMLINK_HOME: path.join(dir.path, 'swarmlink'), SWARMLINK_LISTEN_IP: '127.0.0.1', SWARMLINK_NO_DHT: '1', SWARMLINK_NO_LSD: '1', SWARMLINK_LOG: 'debug' };
  clip = await makeClipTorrent(path.join(dir.path, 'seed'));
  seeder = await startSeeder(clip.torrent, clip.saveDir);
  relay = helperRelay(bins.bthelper, env);
  daemonPid = (await relay.call({ cmd: 'hello', client: 'firefox-media test' })).pid;
  const routes = await filesOf(out.firefox);
  const messages = JSON.parse(await readFile(path.join(out.firefox, '_locales/en/messages.json'), 'utf8'));
  routes['/test-shim.js'] = { type: 'text/javascript', body: shim(messages) };
  const html = routes['/pages/player.html'].body.toString('utf8');
  routes['/pages/player.html'] = { type: 'text/html', body: html.replace('<script type="module"', '<script src="/test-shim.js"></script>\n  <script type="module"') };
  web = await pageServer(routes, relay);
  ({ browser } = await launchFirefox(out.firefox, dir.path));
  await relay.call({ cmd: 'add', torrent_b64: clip.bytes.toString('base64'), peers: [`127.0.0.1:${seeder.port}`] });
  index = await fileIndices(relay, clip.infoHash);
});

after(async () => {
  await browser?.close();
  await web?.close();
  relay?.close();
  seeder?.stop();
  if (env) spawnSync(bins.bthelper, ['daemon', '--stop'], { env, encoding: 'utf8', timeout: 40000 });
  stopPid(daemonPid);
  await dir?.remove();
});

async function playAndSeek(file) {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/pages/player.html?hash=${clip.infoHash}&file=${file}`);
  await page.waitForSelector('#stage video', { timeout: 30000 });
  await page.evaluate(() => {
    const v = document.querySelector('#stage video');
    v.muted = true;
    return v.play();
  });
  const state = () => page.evaluate(() => {
    const v = document.querySelector('#stage video');
    return { t: v.currentTime, error: v.error && v.error.code, status: document.querySelector('#status').textContent };
  });
  const report = async (err) => {
    throw new Error(`${err.message}; ${JSON.stringify(await state())}`);
  };
  await waitFor('playback to advance', async () => (await state()).t > 1, { timeoutMs: 60000 }).catch(report);
  const have = (await relay.call({ cmd: 'files', info_hash: clip.infoHash })).files.find((f) => f.index === file);
  console.log(`Firefox playing after 1 s with ${have.have_bytes} of ${have.length} bytes of ${have.path} verified`);
  const duration = await page.evaluate(() => document.querySelector('#stage video').duration);
  assert.ok(Math.abs(duration - CLIP_SECONDS) < 0.5, `duration ${duration}`);
  assert.equal(await page.evaluate(() => document.querySelector('#stage video').videoWidth), 320, 'the picture is decoded');
  await page.evaluate(() => {
    const v = document.querySelector('#stage video');
    v.currentTime = v.duration * 0.8;
  });
  await waitFor('playback on from 80%', async () => (await state()).t > CLIP_SECONDS * 0.8 + 1, { timeoutMs: 60000 }).catch(report);
  assert.equal((await state()).error, null);
  return page;
}

test('Firefox plays the WebM while it downloads, seeks to 80%, shows the .srt as WebVTT and the pieces', { skip: pending, timeout: 180000 }, async () => {
  const before = (await relay.call({ cmd: 'files', info_hash: clip.infoHash })).files.find((f) => f.index === index['clip.webm']);
  assert.ok(before.have_bytes < before.length, `the WebM is still downloading (${before.have_bytes} of ${before.length})`);
  const page = await playAndSeek(index['clip.webm']);
  const track = await waitFor('the subtitle track to show its cues', () => page.evaluate(() => {
    const v = document.querySelector('#stage video');
    const tt = v.textTracks[0];
    if (!tt || !tt.cues || tt.cues.length === 0) return null;
    const active = [...(tt.activeCues || [])].map((c) => c.text);
    return active.length && { mode: tt.mode, cues: tt.cues.length, active };
  }), { timeoutMs: 60000 });
  assert.equal(track.mode, 'showing');
  assert.equal(track.cues, CLIP_SECONDS / 2);
  assert.match(track.active[0], /^Cue 1[2-4] <i>of the clip<\/i>$/);
  const spans = await waitFor('the pieces drawn along the seek bar', () => page.evaluate(() => {
    const c = document.querySelector('#pieces');
    return !document.querySelector('#pieces-row').hidden && c.dataset.spans && JSON.parse(c.dataset.spans);
  }));
  assert.ok(spans.some(([a, b]) => a <= 0.85 && b >= 0.8), `the pieces at 80% are in: ${JSON.stringify(spans)}`);
  await page.close();
});

test('Firefox plays the H.264/AAC MP4 and seeks to 80%', { skip: pending, timeout: 180000 }, async () => {
  const page = await playAndSeek(index['clip.mp4']);
  await page.close();
});

test('Firefox: a Matroska file of a codec it lacks says so and offers the stream link', { skip: pending, timeout: 120000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/pages/player.html?hash=${clip.infoHash}&file=${index['odd.mkv']}`);
  await waitFor('the fallback with the link', () => page.evaluate(() => !document.querySelector('#fallback').hidden), { timeoutMs: 60000 });
  assert.match(await page.$eval('#link', (e) => e.value), /\/odd\.mkv$/);
  assert.match(await page.$eval('#status', (e) => e.textContent), /cannot (play|show)/);
  await page.close();
});
