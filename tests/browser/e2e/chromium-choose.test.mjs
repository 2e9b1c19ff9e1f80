// Choosing what, where and when, in Chromium with every part real: bthelper is the registered
// native host (isolated by SWARMLINK_HOME), python3-libtorrent seeds torrents it made for an
// open bttrack. The options page sets "ask which files"; a click on a three-file .torrent
// leaves it waiting; the popup's notice opens the downloads page's chooser, where the user
// keeps one file and picks an allowed folder: only that file is written, byte-exact. A magnet
// waits once its metadata arrived and is chosen the same way. Three adds with
// max_active_downloads 1: two are queued, and each starts in order. The downloads page's bulk
// Move action moves two seeding torrents to an allowed folder.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import { builtExtension, tempDir, artifactsDir, waitFor, launchChromium, registerChromiumHost, startWebServer, axeViolations, IDS } from './harness.mjs';
import { fullFlowBinaries, randomFile, sha256Of } from './swarm.mjs';
import { libtorrentMissing, startOpenSwarm, daemonRequest, daemonTorrents, stopDaemon, filesBelow } from './choose-world.mjs';

const bins = await fullFlowBinaries();
const missing = bins.pending || libtorrentMissing();
const pending = missing ? `pending: ${missing}` : false;

// Lengths that put every file boundary inside a 16 KiB piece.
const SEASON = [['a.bin', 100000], ['b.bin', 150001], ['c.bin', 90017]];
const QUEUED = ['q1.bin', 'q2.bin', 'q3.bin'];

let dir;
let swarm;
let web;
let context;
let worker;
let artifacts;
let helperHome;
let videos;
const files = {};

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('choose');
  const source = path.join(dir.path, 'source');
  for (const [folder, prefix] of [['season', ''], ['mseason', 'm']]) {
    await mkdir(path.join(source, folder), { recursive: true });
    for (const [name, size] of SEASON) files[`${prefix}${name}`] = await randomFile(path.join(source, folder), name, size);
  }
  for (const name of QUEUED) files[name] = await randomFile(source, name, 640 * 1024 + 11);
  const contents = ['season', 'mseason', ...QUEUED].map((c) => path.join(source, c));
  swarm = await startOpenSwarm(bins, dir.path, contents);
  const torrentOf = (c) => swarm.torrents[path.join(source, c)];
  files.season = torrentOf('season');
  files.mseason = torrentOf('mseason');
  const magnet = `magnet:?xt=urn:btih:${files.mseason.hash}&dn=mseason&tr=${encodeURIComponent(`${swarm.origin}/announce`)}&x.pe=127.0.0.1:${swarm.port}`;
  const routes = {
    '/': {
      type: 'text/html',
      body: `<!doctype html><title>shows</title><a id="t" href="/season.torrent">season</a> <a id="m" href="${magnet}">mseason</a> ${QUEUED.map((q, i) => `<a id="q${i + 1}" href="/${q}.torrent">${q}</a>`).join(' ')}`,
    },
    '/season.torrent': { type: 'application/x-bittorrent', body: await readFile(files.season.torrent) },
  };
  for (const q of QUEUED) {
    files[q].hash = torrentOf(q).hash;
    routes[`/${q}.torrent`] = { type: 'application/x-bittorrent', body: await readFile(torrentOf(q).torrent) };
  }
  web = await startWebServer(routes);
  helperHome = path.join(dir.path, 'swarmlink');
  videos = path.join(dir.path, 'videos');
  await mkdir(videos);
  const profile = path.join(dir.path, 'profile');
  await registerChromiumHost(bins.bthelper, profile);
  ({ context, worker } = await launchChromium(out.chromium, profile, {
    env: { ...process.env, SWARMLINK_HOME: helperHome, SWARMLINK_LISTEN_IP: '127.0.0.1', SWARMLINK_NO_DHT: '1', SWARMLINK_NO_LSD: '1' },
  }));
});

after(async () => {
  await context?.close();
  await stopDaemon(helperHome);
  swarm?.stop();
  await web?.close();
  await dir?.remove();
});

const extPage = (p) => `chrome-extension://${IDS.chromium_extension_id}/pages/${p}`;
const stateOf = (hash) => worker.evaluate((h) => globalThis.swarmlinkDebug().state.torrents[h]?.state || null, hash);
const withLogs = (err) => new Error(`${err.message}\n--- logs:\n${swarm.logs()}`);

/** The popup's notice for waiting torrents opens the downloads page on `hash`'s chooser. */
async function chooseFromPopup(hash, name) {
  const popup = await context.newPage();
  await popup.setViewportSize({ width: 440, height: 560 });
  await popup.goto(extPage('popup.html'));
  await popup.locator('#awaiting:not([hidden])').waitFor({ timeout: 20000 });
  assert.match(await popup.locator('#awaiting-text').textContent(), new RegExp(name));
  await popup.screenshot({ animations: 'disabled', path: path.join(artifacts, `chromium-popup-awaiting-${name}.png`) });
  const opened = context.waitForEvent('page', { predicate: (p) => p.url().includes(`#choose=${hash}`), timeout: 5000 }).catch(() => null);
  await popup.click('#awaiting-choose');
  let page = await opened;
  if (!page) page = context.pages().find((p) => p.url().includes(`#choose=${hash}`));
  assert.ok(page, 'the downloads page shows the torrent to choose');
  if (!popup.isClosed()) await popup.close();
  await page.locator('#chooser').waitFor({ timeout: 20000 });
  return page;
}

/** In the chooser: clear the torrent's folder, tick one file, pick `folder`, start. */
async function keepOne(page, root, file, folder) {
  const box = (p) => page.locator(`#chooser input.choose-box[data-path="${p}"]`);
  assert.deepEqual(
    await page.locator('#chooser input.choose-box').evaluateAll((b) => b.map((x) => [x.dataset.path, x.dataset.check])),
    [[root, 'checked'], ...SEASON.map(([n]) => [`${root}/${n}`, 'checked'])],
  );
  await box(root).click();
  await page.locator(`#chooser input.choose-box[data-path="${root}"][data-check=unchecked]`).waitFor();
  assert.ok(await page.locator('#choose-start').isDisabled(), 'nothing chosen: nothing to start');
  await box(`${root}/${file}`).click();
  await page.locator(`#chooser input.choose-box[data-path="${root}"][data-check=mixed]`).waitFor();
  assert.match(await page.locator('#choose-total').textContent(), /^1 of 3 files selected: /);
  if (folder) await page.selectOption('#choose-folder', folder);
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, `chromium-choose-${root}.png`) });
  await page.click('#choose-start');
}

test('a three-file torrent waits for a choice; one file chosen in the downloads page lands alone, byte-exact', { skip: pending, timeout: 180000 }, async () => {
  // "Ask which files" through the options page.
  const options = await context.newPage();
  await options.goto(extPage('options.html'));
  await options.locator('#helper-fields:not([disabled])').waitFor({ timeout: 30000 });
  assert.equal(await options.locator('#choose_files').inputValue(), 'all');
  await options.selectOption('#choose_files', 'ask');
  await options.click('button[type=submit]');
  await options.locator('#helper-status[data-kind=ok]').waitFor();
  await options.close();
  await daemonRequest(helperHome, 'set_settings', { settings: { allowed_dirs: [videos] } });
  assert.equal((await daemonRequest(helperHome, 'get_settings')).choose_files, 'ask');

  const site = await context.newPage();
  await site.goto(`${web.origin}/`);
  await site.click('#t');
  const hash = files.season.hash;
  await waitFor('the torrent to wait for a choice', async () => (await stateOf(hash)) === 'awaiting_selection');
  const downloads = path.join(helperHome, 'downloads');
  assert.deepEqual(await filesBelow(downloads), [], 'nothing written while it waits');

  const page = await chooseFromPopup(hash, 'season');
  assert.deepEqual(await axeViolations(page), [], 'the chooser passes WCAG 2.1 AA checks (light)');
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await axeViolations(page), [], 'the chooser passes WCAG 2.1 AA checks (dark)');
  await page.emulateMedia({ colorScheme: 'light' });
  assert.deepEqual(await page.locator('#choose-folder option').evaluateAll((o) => o.map((x) => x.value)), [downloads, videos]);
  await keepOne(page, 'season', 'b.bin', videos);
  await waitFor('the chosen file to finish', async () => (await stateOf(hash)) === 'seeding', { timeoutMs: 90000, intervalMs: 250 }).catch((err) => {
    throw withLogs(err);
  });
  assert.deepEqual(await filesBelow(videos), ['season/b.bin'], 'only the chosen file exists');
  assert.equal(await sha256Of(path.join(videos, 'season', 'b.bin')), files['b.bin'].sha256);
  assert.deepEqual(await filesBelow(downloads), [], 'nothing in the download folder');
  // The chooser gave way to the files with their priorities.
  await page.locator('#tab-panel table.files:not(.choose)').waitFor({ timeout: 10000 });
  await page.close();
  await site.close();
});

test('a magnet waits for a choice once its metadata arrived; the choice downloads one file', { skip: pending, timeout: 180000 }, async () => {
  const site = await context.newPage();
  await site.goto(`${web.origin}/`);
  await site.click('#m');
  const hash = files.mseason.hash;
  await waitFor('the magnet to wait for a choice', async () => (await stateOf(hash)) === 'awaiting_selection', { timeoutMs: 60000 }).catch((err) => {
    throw withLogs(err);
  });
  const page = await chooseFromPopup(hash, 'mseason');
  await keepOne(page, 'mseason', 'c.bin', null);
  await waitFor('the chosen file to finish', async () => (await stateOf(hash)) === 'seeding', { timeoutMs: 90000, intervalMs: 250 }).catch((err) => {
    throw withLogs(err);
  });
  const downloads = path.join(helperHome, 'downloads');
  assert.deepEqual(await filesBelow(downloads), ['mseason/c.bin']);
  assert.equal(await sha256Of(path.join(downloads, 'mseason', 'c.bin')), files['mc.bin'].sha256);
  await page.close();
  await site.close();
});

test('three adds with max_active_downloads 1: two queued, then each starts in order', { skip: pending, timeout: 180000 }, async () => {
  // Slow enough that the queue can be seen: about 2.5 s per download.
  await daemonRequest(helperHome, 'set_settings', { settings: { max_active_downloads: 1, download_rate_limit: 256 * 1024 } });
  const site = await context.newPage();
  await site.goto(`${web.origin}/`);
  const hashes = QUEUED.map((q) => files[q].hash);
  for (const id of ['#q1', '#q2', '#q3']) await site.click(id);
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
    const running = hashes.filter((h) => active.has(all[h].state));
    if (running.length > 1) crowded.push(hashes.map((h) => all[h].state).join(' '));
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
  await daemonRequest(helperHome, 'set_settings', { settings: { max_active_downloads: 5, download_rate_limit: null } });
  await site.close();
});

test('the downloads page moves two seeding torrents to an allowed folder; they keep seeding from there', { skip: pending, timeout: 120000 }, async () => {
  const [q2, q3] = [files['q2.bin'], files['q3.bin']];
  await waitFor('both seeding', async () => (await stateOf(q2.hash)) === 'seeding' && (await stateOf(q3.hash)) === 'seeding');
  const page = await context.newPage();
  await page.setViewportSize({ width: 1100, height: 700 });
  await page.goto(extPage('downloads.html'));
  await page.locator(`#row-${q2.hash}`).click();
  await page.locator(`#row-${q3.hash}`).click({ modifiers: ['Control'] });
  await page.locator('#selected-count', { hasText: '2 selected' }).waitFor();
  await page.click('button[data-bulk=move]');
  await page.locator('#move-dialog[open]').waitFor();
  await page.selectOption('#move-dir', videos);
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
  const left = await filesBelow(path.join(helperHome, 'downloads'));
  assert.ok(!left.includes('q2.bin') && !left.includes('q3.bin'), `nothing left behind: ${left}`);
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-downloads-moved.png') });
  await page.close();
});
