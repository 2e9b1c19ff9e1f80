// Choosing what, where and when, in Firefox ESR with the real helper and python3-libtorrent
// seeding for an open bttrack. Links are clicked in Firefox and reach the helper through the
// extension (content script, background, native messaging). WebDriver BiDi cannot open
// moz-extension:// pages (see firefox-downloads.test.mjs), so the chooser is the built downloads
// page (dist/firefox) served from loopback with a shim for the extension APIs whose port relays
// the page's commands to the same daemon over its socket (the background's relaying is covered
// in Chromium): Gecko renders the tree and the user's clicks send the `select`. What is
// checked: one file of a three-file torrent chosen (and an allowed folder): only it exists,
// byte-exact; a magnet chosen after its metadata arrived; three adds with max_active_downloads
// 1, two queued, each starting in order; the bulk Move action moving two seeding torrents.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { builtExtension, tempDir, artifactsDir, waitFor, launchFirefox, registerFirefoxHost } from './harness.mjs';
import { fullFlowBinaries, randomFile, sha256Of } from './swarm.mjs';
import { libtorrentMissing, startOpenSwarm, daemonRequest, daemonTorrents, bthelperCli, stopDaemon, filesBelow } from './choose-world.mjs';

const bins = await fullFlowBinaries();
const missing = bins.pending || libtorrentMissing();
const pending = missing ? `pending: ${missing}` : false;

const SEASON = [['a.bin', 100000], ['b.bin', 150001], ['c.bin', 90017]];
const QUEUED = ['q1.bin', 'q2.bin', 'q3.bin'];
const TYPES = { '.js': 'text/javascript', '.css': 'text/css', '.html': 'text/html', '.png': 'image/png', '.json': 'application/json', '.svg': 'image/svg+xml' };
const HELPER_ENV = { SWARMLINK_LISTEN_IP: '127.0.0.1', SWARMLINK_NO_DHT: '1', SWARMLINK_NO_LSD: '1' };

/**
 * The stand-in for the extension APIs in the served downloads page: chrome.i18n over the
 * English messages, and a port that gives the page the daemon's list every 500 ms (a full
 * patch, lib/sync.js) and relays its commands to `/bridge`.
 */
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
  const sent = [];
  globalThis.shimSent = sent;
  let listener = () => {};
  const post = (m) => setTimeout(() => listener(m), 0);
  const bridge = (cmd, args) => fetch('/bridge', { method: 'POST', body: JSON.stringify({ cmd, args }) }).then((r) => r.json());
  const poll = async () => {
    const r = await bridge('list', {});
    if (r.ok) post({ type: 'patch', patch: { full: true, helper: 'ready', helperError: null, helperInfo: { version: 'bridge' }, order: r.result.torrents.map((t) => t.info_hash), set: r.result.torrents } });
  };
  const port = {
    onMessage: { addListener(f) { listener = f; } },
    onDisconnect: { addListener() {} },
    postMessage(msg) {
      sent.push(msg);
      if (msg.type === 'connect') {
        poll();
        setInterval(poll, 500);
      } else if (msg.type === 'command') {
        bridge(msg.cmd, msg.args).then((r) => post({ type: 'reply', rid: msg.rid, ok: r.ok, result: r.result, error: r.error }));
      }
    },
  };
  globalThis.chrome = { i18n: { getMessage, getUILanguage: () => 'en' }, runtime: { connect: () => port } };
})();`;
}

async function routesFor(dir, prefix = '') {
  const routes = {};
  for (const entry of await readdir(path.join(dir, prefix), { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(routes, await routesFor(dir, rel));
    else routes[`/${rel}`] = { type: TYPES[path.extname(entry.name)] || 'application/octet-stream', body: await readFile(path.join(dir, rel)) };
  }
  return routes;
}

/** Static routes plus `POST /bridge` {cmd, args} -> the daemon's answer {ok, result, error}. */
async function startServer(routes, home) {
  const server = http.createServer((req, res) => {
    const url = req.url.split('?')[0];
    if (url === '/bridge' && req.method === 'POST') {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', async () => {
        let answer;
        try {
          const { cmd, args } = JSON.parse(body);
          answer = { ok: true, result: await daemonRequest(home, cmd, args) };
        } catch (err) {
          answer = { ok: false, error: { code: err.code || 'error', error: err.message } };
        }
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      });
      return;
    }
    const route = routes[url];
    res.writeHead(route ? 200 : 404, { 'content-type': route ? route.type : 'text/plain' });
    res.end(route ? route.body : 'not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((resolve) => server.close(resolve)) };
}

let dir;
let swarm;
let web;
let browser;
let artifacts;
let helperHome;
let videos;
const files = {};

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('firefox-choose');
  const source = path.join(dir.path, 'source');
  for (const [folder, prefix] of [['season', ''], ['mseason', 'm']]) {
    await mkdir(path.join(source, folder), { recursive: true });
    for (const [name, size] of SEASON) files[`${prefix}${name}`] = await randomFile(path.join(source, folder), name, size);
  }
  for (const name of QUEUED) files[name] = await randomFile(source, name, 640 * 1024 + 11);
  swarm = await startOpenSwarm(bins, dir.path, ['season', 'mseason', ...QUEUED].map((c) => path.join(source, c)));
  const torrentOf = (c) => swarm.torrents[path.join(source, c)];
  files.season = torrentOf('season');
  files.mseason = torrentOf('mseason');
  helperHome = path.join(dir.path, 'swarmlink');
  videos = path.join(dir.path, 'videos');
  await mkdir(videos);
  // The daemon, started by a terminal command with the settings of this test; Firefox's relay
  // connects to it.
  bthelperCli(bins.bthelper, helperHome, ['set', 'choose_files=ask', `allowed_dirs=${JSON.stringify([videos])}`], HELPER_ENV);

  const magnet = `magnet:?xt=urn:btih:${files.mseason.hash}&dn=mseason&tr=${encodeURIComponent(`${swarm.origin}/announce`)}&x.pe=127.0.0.1:${swarm.port}`;
  const routes = await routesFor(out.firefox);
  const messages = JSON.parse(await readFile(path.join(out.firefox, '_locales/en/messages.json'), 'utf8'));
  routes['/test-shim.js'] = { type: 'text/javascript', body: shim(messages) };
  const html = routes['/pages/downloads.html'].body.toString('utf8');
  routes['/pages/downloads.html'] = { type: 'text/html', body: html.replace('<script type="module"', '<script src="/test-shim.js"></script>\n  <script type="module"') };
  routes['/'] = {
    type: 'text/html',
    body: `<!doctype html><title>shows</title><a id="t" href="/season.torrent">season</a> <a id="m" href="${magnet}">mseason</a> ${QUEUED.map((q, i) => `<a id="q${i + 1}" href="/${q}.torrent">${q}</a>`).join(' ')}`,
  };
  routes['/season.torrent'] = { type: 'application/x-bittorrent', body: await readFile(files.season.torrent) };
  for (const q of QUEUED) {
    files[q].hash = torrentOf(q).hash;
    routes[`/${q}.torrent`] = { type: 'application/x-bittorrent', body: await readFile(torrentOf(q).torrent) };
  }
  web = await startServer(routes, helperHome);
  const home = path.join(dir.path, 'home');
  await mkdir(home);
  await registerFirefoxHost(bins.bthelper, home);
  ({ browser } = await launchFirefox(out.firefox, home, { env: { SWARMLINK_HOME: helperHome, ...HELPER_ENV } }));
});

after(async () => {
  await browser?.close();
  await stopDaemon(helperHome);
  swarm?.stop();
  await web?.close();
  await dir?.remove();
});

const stateOf = async (hash) => ((await daemonTorrents(helperHome))[hash] || {}).state || null;
const withLogs = (err) => new Error(`${err.message}\n--- logs:\n${swarm.logs()}`);

/** Clicks link `id` on the site page in Firefox (the extension adds it). */
async function click(id) {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/`);
  await page.click(id);
  await page.waitForSelector('swarmlink-toast[data-kind=ok]', { timeout: 30000 });
  await page.close();
}

/** The served downloads page on `hash`'s chooser: keep `file` only, pick `folder`, start. */
async function chooseOne(hash, root, file, folder) {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 700 });
  await page.goto(`${web.origin}/pages/downloads.html#choose=${hash}`);
  await page.waitForSelector('#chooser', { timeout: 20000 });
  const boxes = await page.$$eval('#chooser input.choose-box', (b) => b.map((x) => [x.dataset.path, x.dataset.check]));
  assert.deepEqual(boxes, [[root, 'checked'], ...SEASON.map(([n]) => [`${root}/${n}`, 'checked'])]);
  await page.click(`#chooser input.choose-box[data-path="${root}"]`);
  await page.waitForSelector(`#chooser input.choose-box[data-path="${root}"][data-check=unchecked]`);
  await page.click(`#chooser input.choose-box[data-path="${root}/${file}"]`);
  await page.waitForSelector(`#chooser input.choose-box[data-path="${root}"][data-check=mixed]`);
  assert.match(await page.$eval('#choose-total', (e) => e.textContent), /^1 of 3 files selected: /);
  if (folder) await page.select('#choose-folder', folder);
  await page.screenshot({ path: path.join(artifacts, `firefox-choose-${root}.png`) });
  await page.click('#choose-start');
  return page;
}

test('Firefox: a clicked three-file torrent waits; one file chosen lands alone, byte-exact, in the chosen folder', { skip: pending, timeout: 180000 }, async () => {
  await click('#t');
  const hash = files.season.hash;
  await waitFor('the torrent to wait for a choice', async () => (await stateOf(hash)) === 'awaiting_selection');
  const downloads = path.join(helperHome, 'downloads');
  assert.deepEqual(await filesBelow(downloads), [], 'nothing written while it waits');
  const page = await chooseOne(hash, 'season', 'b.bin', videos);
  await waitFor('the chosen file to finish', async () => (await stateOf(hash)) === 'seeding', { timeoutMs: 90000, intervalMs: 250 }).catch((err) => {
    throw withLogs(err);
  });
  assert.deepEqual(await filesBelow(videos), ['season/b.bin'], 'only the chosen file exists');
  assert.equal(await sha256Of(path.join(videos, 'season', 'b.bin')), files['b.bin'].sha256);
  assert.deepEqual(await filesBelow(downloads), []);
  const select = await page.evaluate(() => globalThis.shimSent.filter((m) => m.cmd === 'select').map((m) => m.args));
  assert.deepEqual(select, [{ info_hash: hash, files: [1], save_dir: videos }]);
  await page.close();
});

test('Firefox: a clicked magnet waits once its metadata arrived; the choice downloads one file', { skip: pending, timeout: 180000 }, async () => {
  await click('#m');
  const hash = files.mseason.hash;
  await waitFor('the magnet to wait for a choice', async () => (await stateOf(hash)) === 'awaiting_selection', { timeoutMs: 60000 }).catch((err) => {
    throw withLogs(err);
  });
  const page = await chooseOne(hash, 'mseason', 'a.bin', null);
  await waitFor('the chosen file to finish', async () => (await stateOf(hash)) === 'seeding', { timeoutMs: 90000, intervalMs: 250 }).catch((err) => {
    throw withLogs(err);
  });
  const downloads = path.join(helperHome, 'downloads');
  assert.deepEqual(await filesBelow(downloads), ['mseason/a.bin']);
  assert.equal(await sha256Of(path.join(downloads, 'mseason', 'a.bin')), files['ma.bin'].sha256);
  await page.close();
});

test('Firefox: three clicked torrents with max_active_downloads 1: two queued, then each starts in order', { skip: pending, timeout: 180000 }, async () => {
  await daemonRequest(helperHome, 'set_settings', { settings: { max_active_downloads: 1, download_rate_limit: 256 * 1024 } });
  const page = await browser.newPage();
  await page.goto(`${web.origin}/`);
  for (const id of ['#q1', '#q2', '#q3']) await page.click(id);
  const hashes = QUEUED.map((q) => files[q].hash);
  const active = new Set(['checking', 'allocating', 'connecting', 'downloading']);
  const started = {};
  const done = {};
  const crowded = [];
  const first = await waitFor('all three in the list', async () => {
    const all = await daemonTorrents(helperHome);
    return hashes.every((h) => all[h]) && hashes.map((h) => all[h].state);
  });
  assert.deepEqual(first.slice(1), ['queued', 'queued'], `states right after the adds: ${first}`);
  await waitFor('every download to finish, one at a time', async () => {
    const all = await daemonTorrents(helperHome);
    const now = Date.now();
    if (hashes.filter((h) => active.has(all[h].state)).length > 1) crowded.push(hashes.map((h) => all[h].state).join(' '));
    for (const h of hashes) {
      if (all[h].state !== 'queued' && !started[h]) started[h] = now;
      if (all[h].state === 'seeding' && !done[h]) done[h] = now;
    }
    return hashes.every((h) => done[h]);
  }, { timeoutMs: 120000, intervalMs: 100 }).catch((err) => {
    throw withLogs(err);
  });
  assert.deepEqual(crowded, [], 'one download at a time');
  assert.ok(started[hashes[0]] <= started[hashes[1]] && started[hashes[1]] <= started[hashes[2]], `started in order: ${JSON.stringify(started)}`);
  assert.ok(started[hashes[1]] >= done[hashes[0]] && started[hashes[2]] >= done[hashes[1]], 'each starts when the one before finished');
  for (const q of QUEUED) assert.equal(await sha256Of(path.join(helperHome, 'downloads', q)), files[q].sha256);
  await page.close();
});

test('Firefox: the downloads page moves two seeding torrents to an allowed folder; they keep seeding from there', { skip: pending, timeout: 120000 }, async () => {
  const [q2, q3] = [files['q2.bin'], files['q3.bin']];
  await waitFor('both seeding', async () => (await stateOf(q2.hash)) === 'seeding' && (await stateOf(q3.hash)) === 'seeding');
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 700 });
  await page.goto(`${web.origin}/pages/downloads.html`);
  await page.waitForSelector(`#row-${q3.hash}`, { timeout: 20000 });
  await page.click(`#row-${q2.hash}`);
  await page.keyboard.down('Control');
  await page.click(`#row-${q3.hash}`);
  await page.keyboard.up('Control');
  await waitFor('two selected', async () => (await page.$eval('#selected-count', (e) => e.textContent)) === '2 selected');
  await page.click('button[data-bulk=move]');
  await page.waitForSelector('#move-dialog[open]');
  await page.select('#move-dir', videos);
  await page.click('#move-ok');
  for (const q of [q2, q3]) {
    const name = path.basename(q.file);
    await waitFor(`${name} in the new folder`, async () => {
      const all = await daemonTorrents(helperHome);
      return all[q.hash].save_path === path.join(videos, name) && !all[q.hash].moving && all[q.hash].state === 'seeding';
    }, { timeoutMs: 60000 }).catch((err) => {
      throw withLogs(err);
    });
    assert.equal(await sha256Of(path.join(videos, name)), q.sha256);
  }
  const moves = await page.evaluate(() => globalThis.shimSent.filter((m) => m.cmd === 'move').map((m) => m.args.save_dir));
  assert.deepEqual(moves, [videos, videos]);
  await page.close();
});
