// The tracker's listing page in Chromium, as a visitor sees it (no extension): light and dark,
// wide and phone-sized, scripts on and off. The page must take its own stylesheet under its CSP
// (no CSP violation, not the browser's default serif), pass axe-core's WCAG A/AA rules in both
// colour schemes, fit a phone without sideways scrolling, and open a multi-file torrent's file
// list with scripts off. Screenshots go to tests/browser/artifacts/ (kept by CI) and are worth
// a look after any change to tracker/src/listing/.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { artifactsDir, workspaceBinaries, waitFor, axeViolations, stopPid, CHROMIUM } from './harness.mjs';
import { freePort } from './swarm.mjs';

let bttrack;
let base;
let browser;
let artifacts;
let pending;

/** Bencodes numbers, strings, Buffers, arrays and objects (keys sorted, as BEP 3 asks). */
function bencode(v) {
  if (typeof v === 'number') return Buffer.from(`i${v}e`);
  if (typeof v === 'string') v = Buffer.from(v);
  if (Buffer.isBuffer(v)) return Buffer.concat([Buffer.from(`${v.length}:`), v]);
  if (Array.isArray(v)) return Buffer.concat([Buffer.from('l'), ...v.map(bencode), Buffer.from('e')]);
  const keys = Object.keys(v).sort();
  return Buffer.concat([Buffer.from('d'), ...keys.flatMap((k) => [bencode(k), bencode(v[k])]), Buffer.from('e')]);
}

/** A torrent the tracker accepts (it never checks piece hashes): one file, or `files`. */
function torrent(name, size, files) {
  const pieceLength = 1 << 20;
  const total = files ? files.reduce((n, f) => n + f[1], 0) : size;
  const info = { name, 'piece length': pieceLength, pieces: Buffer.alloc(20 * Math.max(1, Math.ceil(total / pieceLength)), 7) };
  if (files) info.files = files.map(([p, length]) => ({ length, path: p.split('/') }));
  else info.length = size;
  return bencode({ info });
}

async function publish(bytes, query) {
  const r = await fetch(`${base}/publish/?${query}`, { method: 'PUT', body: bytes });
  assert.equal(r.status, 200, await r.text());
}

before(async () => {
  const bins = await workspaceBinaries(['bttrack']);
  if (bins.pending) {
    pending = bins.pending;
    return;
  }
  artifacts = await artifactsDir();
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  bttrack = spawn(
    bins.bttrack,
    [
      '--bind', '127.0.0.1', '--port', String(port), '--log', '-',
      '--title', 'Ann’s published files',
      '--about', 'Home videos and notes from the Smith family. Click a name to download it.',
      '--extension-url', 'https://swarmlink.example/get',
    ],
    { stdio: 'ignore' },
  );
  await waitFor('bttrack', async () => (await fetch(`${base}/`).catch(() => null))?.ok, { timeoutMs: 30000 });
  await publish(torrent('Sintel trailer.mkv', 30_000_000), 'port=5989&ip=69.69.69.69');
  await publish(
    torrent('Holiday photos 2026', 0, [
      ['day 1/beach.jpg', 4_200_000],
      ['day 1/sunset over the harbour.jpg', 3_900_000],
      ['day 2/market.jpg', 5_100_000],
      ['notes.pdf', 240_000],
    ]),
    'port=5990',
  );
  await publish(torrent('notes.pdf', 1_234_567), 'port=5991');
  await publish(torrent('Big Buck Bunny (1080p, 60 fps, surround sound).mp4', 355_856_562), 'port=5992&ip=69.69.69.69');
  // The publisher of Sintel is online and seeding; two leechers and a finished download.
  const ih = (await (await fetch(`${base}/?format=json&q=sintel`)).json()).torrents[0].info_hash;
  let escaped = '';
  for (const b of Buffer.from(ih, 'hex')) escaped += `%${b.toString(16).padStart(2, '0')}`;
  for (const [p, left, event] of [[7001, 0, 'completed'], [7002, 500, 'started'], [7003, 900, 'started']]) {
    await fetch(`${base}/announce?info_hash=${escaped}&peer_id=-TT0001-${String(p).padStart(12, '0')}&port=${p}&uploaded=0&downloaded=0&left=${left}&event=${event}&compact=1`);
  }
  const { chromium } = await import('playwright-core');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  if (bttrack) stopPid(bttrack.pid);
});

const VIEWS = [
  { name: 'wide', viewport: { width: 1280, height: 900 } },
  { name: 'phone', viewport: { width: 390, height: 844 }, isMobile: true, deviceScaleFactor: 2 },
];

for (const colorScheme of ['light', 'dark']) {
  for (const view of VIEWS) {
    test(`the listing page, ${colorScheme}, ${view.name}`, async (t) => {
      if (pending) return t.skip(pending);
      const context = await browser.newContext({ colorScheme, viewport: view.viewport, isMobile: view.isMobile, deviceScaleFactor: view.deviceScaleFactor });
      const page = await context.newPage();
      const problems = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(String(e)));
      await page.goto(`${base}/`);
      // Its own stylesheet applied (a CSP that blocked it would leave the default serif).
      const font = await page.evaluate(() => getComputedStyle(document.body).fontFamily);
      assert.match(font, /system-ui/, font);
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
      const dark = background === 'rgb(15, 17, 21)';
      assert.equal(dark, colorScheme === 'dark', background);
      // No sideways scrolling on a phone.
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `wider than the screen by ${overflow}px`);
      assert.deepEqual(await axeViolations(page), []);
      assert.deepEqual(problems, []);
      // The multi-file torrent's files open (a <details>, no script needed).
      await page.locator('details.files summary').first().click();
      await page.screenshot({ fullPage: true, animations: 'disabled', path: path.join(artifacts, `tracker-listing-${colorScheme}-${view.name}.png`) });
      await context.close();
    });
  }
}

test('the listing works with scripts off: search, sort and the file list', async (t) => {
  if (pending) return t.skip(pending);
  const context = await browser.newContext({ javaScriptEnabled: false, viewport: { width: 1000, height: 800 } });
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.fill('input[name=q]', 'sintel');
  await page.click('form.search button');
  await page.waitForURL(/q=sintel/);
  assert.equal(await page.locator('li.torrent').count(), 1);
  assert.match(await page.locator('li.torrent').innerText(), /Seeders\s*2/);
  await page.goto(`${base}/?sort=size`);
  assert.match(await page.locator('li.torrent .name').first().innerText(), /Big Buck Bunny/);
  await page.goto(`${base}/`);
  const details = page.locator('details.files').first();
  await details.locator('summary').click();
  assert.equal(await details.evaluate((d) => d.open), true);
  assert.match(await details.innerText(), /sunset over the harbour\.jpg/);
  await context.close();
});
