// Firefox ESR over WebDriver BiDi: the add-on installs with its gecko id and its content
// script catches magnet and .torrent clicks, which reach the background (observed through the
// "helper missing" outcome, since this HOME has no native host registered).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { builtExtension, tempDir, artifactsDir, startWebServer, fakeTorrentBytes, launchFirefox, IDS } from './harness.mjs';

const MAGNET = 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=demo';
let dir;
let web;
let browser;
let id;
let artifacts;

before(async () => {
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('firefox');
  web = await startWebServer({
    '/': {
      type: 'text/html',
      body: `<!doctype html><title>links</title>
        <a id="magnet" href="${MAGNET}">magnet</a>
        <a id="torrent" href="/files/demo.torrent">torrent</a>`,
    },
    '/files/demo.torrent': { type: 'application/x-bittorrent', body: fakeTorrentBytes() },
  });
  ({ browser, id } = await launchFirefox(out.firefox, dir.path));
});

after(async () => {
  await browser?.close();
  await web?.close();
  await dir?.remove();
});

test('the add-on installs with its gecko id', () => {
  assert.equal(id, IDS.firefox_addon_id);
});

test('a magnet click is caught and reports the missing helper', async () => {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/`);
  await page.click('#magnet');
  await page.waitForSelector('swarmlink-toast[data-kind=missing]', { timeout: 20000 });
  assert.equal(page.url(), `${web.origin}/`);
  await page.screenshot({ path: path.join(artifacts, 'firefox-toast-helper-missing.png') });
  await page.close();
});

test('a .torrent click is fetched by the extension with the page cookies', async () => {
  const page = await browser.newPage();
  await page.goto(`${web.origin}/`);
  await page.evaluate(() => {
    document.cookie = 'session=secret; path=/';
  });
  const before = web.requests.length;
  await page.click('#torrent');
  await page.waitForSelector('swarmlink-toast[data-kind=missing]', { timeout: 20000 });
  const fetched = web.requests.slice(before).find((r) => r.url === '/files/demo.torrent');
  assert.ok(fetched, 'the extension fetched the .torrent');
  assert.match(fetched.cookie, /session=secret/);
  await page.close();
});
