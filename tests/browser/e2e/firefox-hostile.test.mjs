// Firefox ESR with the real bthelper: the hostile page's tricks (scripted click on <a download>,
// hidden iframe, scripted navigation with and without the suffix, a 302, window.open, a form
// POST, a synthetic click on a magnet) add nothing to the helper, asked with
// `bthelper list --json`. Each one that reaches the extension makes it fetch the torrent to
// describe it and open its confirm page in a new tab. WebDriver BiDi cannot read or drive
// moz-extension:// pages (the tab shows up as about:blank), so what the confirm page shows and
// confirming there are covered in Chromium only; a real click on a listing link still adds with
// one click.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import {
  builtExtension,
  tempDir,
  waitFor,
  launchFirefox,
  workspaceBinaries,
  registerFirefoxHost,
  startWebServer,
  torrentNamed,
  stopPid,
} from './harness.mjs';
import { findFile } from './swarm.mjs';

const bins = await workspaceBinaries(['bthelper']);
const pending = bins.pending ? `pending: bthelper is not ready (${bins.pending})` : false;

const BT = 'application/x-bittorrent';
const MAGNET = 'magnet:?xt=urn:btih:5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e&dn=synthetic';
let dir;
let web;
let browser;
let helperHome;
let first; // the tab Firefox starts with, kept so the browser stays open

const torrent = (name) => ({ type: BT, body: torrentNamed(name) });

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  dir = await tempDir('firefox-hostile');
  helperHome = path.join(dir.path, 'swarmlink');
  web = await startWebServer({
    '/': { type: 'text/html', body: `<!doctype html><title>listing</title><a id="listed" href="/files/listed.bin.torrent">listed.bin</a>` },
    '/hostile': {
      type: 'text/html',
      body: `<!doctype html><title>hostile</title>
        <a id="dl" download href="/a/scripted.bin.torrent">x</a>
        <a id="mag" href="${MAGNET}">m</a>
        <form id="post" method="post" action="/post"><input name="q" value="1"></form>`,
    },
    '/a/scripted.bin.torrent': torrent('scripted.bin'),
    '/frame.bin.torrent': torrent('iframe.bin'),
    '/t': torrent('nosuffix.bin'),
    '/nav.bin.torrent': torrent('navigation.bin'),
    '/redirect': { type: 'text/plain', status: 302, headers: { location: '/redirected' }, body: '' },
    '/redirected': torrent('redirect.bin'),
    '/opened.bin.torrent': torrent('window-open.bin'),
    '/post': torrent('form-post.bin'),
    '/files/listed.bin.torrent': torrent('listed.bin'),
  });
  const home = path.join(dir.path, 'home');
  await mkdir(home);
  await registerFirefoxHost(bins.bthelper, home);
  ({ browser } = await launchFirefox(out.firefox, home, { env: { SWARMLINK_HOME: helperHome } }));
  [first] = await browser.pages();
});

after(async () => {
  await browser?.close();
  if (helperHome) {
    const lock = await findFile(helperHome, 'daemon.lock');
    if (lock) stopPid(Number((await readFile(lock, 'utf8')).trim()));
  }
  await web?.close();
  await dir?.remove();
});

function helperNames() {
  const run = spawnSync(bins.bthelper, ['list', '--json'], {
    encoding: 'utf8',
    timeout: 60000,
    env: { ...process.env, SWARMLINK_HOME: helperHome },
  });
  if (run.status !== 0) throw new Error(`bthelper list failed: ${run.stderr}`);
  const parsed = JSON.parse(run.stdout);
  return (Array.isArray(parsed) ? parsed : parsed.torrents).map((t) => t.name);
}

const tabs = () => browser.targets().filter((t) => t.type() === 'page').length;
/** The extension's fetches of `where` (to describe it on the confirm page), not the browser's own. */
const fetches = (where) => web.requests.filter((r) => r.url === where && r.dest === 'empty').length;

// [what, the page's script, the URL it reaches, the torrent's name]
const ATTACKS = [
  ['a scripted click() on <a download> to a .torrent', () => document.getElementById('dl').click(), '/a/scripted.bin.torrent', 'scripted.bin'],
  ['a hidden iframe loading a .torrent', () => {
    const f = document.createElement('iframe');
    f.style.display = 'none';
    f.src = '/frame.bin.torrent';
    document.body.append(f);
  }, '/frame.bin.torrent', 'iframe.bin'],
  ["location = '/t' (no suffix, served as application/x-bittorrent)", () => {
    location = '/t';
  }, '/t', 'nosuffix.bin'],
  ['a scripted navigation to a .torrent URL', () => {
    location = '/nav.bin.torrent';
  }, '/nav.bin.torrent', 'navigation.bin'],
  ['a 302 redirect to a torrent', () => {
    location = '/redirect';
  }, '/redirected', 'redirect.bin'],
  ['window.open of a .torrent', () => {
    window.open('/opened.bin.torrent');
  }, '/opened.bin.torrent', 'window-open.bin'],
  ['a scripted form POST answered with a torrent', () => document.getElementById('post').submit(), '/post', 'form-post.bin'],
];

for (const [what, attack, where, name] of ATTACKS) {
  test(`Firefox hostile page: ${what} goes to the confirm page and adds nothing`, { skip: pending, timeout: 90000 }, async () => {
    const page = await browser.newPage();
    await page.goto(`${web.origin}/hostile`);
    const tabsBefore = tabs();
    const fetchedBefore = fetches(where);
    await page.evaluate(attack);
    await waitFor(`the extension to fetch ${where} for its confirm page`, () => fetches(where) > fetchedBefore, { timeoutMs: 30000, intervalMs: 250 }).catch((err) => {
      throw new Error(`${err.message}; requests: ${JSON.stringify(web.requests.filter((r) => r.url === where))}`);
    });
    await waitFor('a new tab (the confirm page)', () => tabs() > tabsBefore, { timeoutMs: 30000, intervalMs: 250 });
    await new Promise((r) => setTimeout(r, 500));
    assert.ok(!helperNames().includes(name), `${name} was not added`);
    // Close every other tab (the confirm page among them): closing it answers "no" and frees
    // its place among the at most 5 waiting confirmations.
    for (const p of await browser.pages()) if (p !== first) await p.close().catch(() => {});
  });
}

test('Firefox hostile page: a synthetic MouseEvent on a magnet link adds nothing', { skip: pending, timeout: 60000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/hostile`);
  const before = tabs();
  await page.evaluate(() => document.getElementById('mag').dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true })));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(tabs(), before);
  assert.ok(!helperNames().includes('synthetic'));
  assert.equal(await page.$$eval('swarmlink-toast', (n) => n.length), 0);
  await page.close();
});

test('Firefox: nothing the hostile page did was added, and a real click on a listing link adds with one click', { skip: pending, timeout: 90000 }, async () => {
  const names = helperNames();
  for (const [, , , name] of ATTACKS) assert.ok(!names.includes(name), `${name} in ${JSON.stringify(names)}`);
  const page = await browser.newPage();
  await page.goto(`${web.origin}/`);
  const before = tabs();
  await page.click('#listed');
  await page.waitForSelector('swarmlink-toast[data-kind=ok]', { timeout: 30000 });
  await waitFor('listed.bin in the helper', () => helperNames().includes('listed.bin'), { timeoutMs: 30000, intervalMs: 500 });
  assert.equal(tabs(), before, 'no confirm page for a real click');
  await page.close();
});
