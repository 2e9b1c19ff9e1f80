// Chromium: the extension loads with its fixed id, and everything that works without the
// helper: the popup, the "helper missing" screen, and each interception path reaching the
// background (observed through the helper-missing outcome).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import {
  builtExtension,
  tempDir,
  artifactsDir,
  waitFor,
  startWebServer,
  fakeTorrentBytes,
  launchChromium,
  axeViolations,
  IDS,
} from './harness.mjs';

const MAGNET = 'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=demo';
let dir;
let web;
let context;
let worker;
let artifacts;

before(async () => {
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('chromium');
  web = await startWebServer({
    '/': {
      type: 'text/html',
      body: `<!doctype html><title>links</title>
        <a id="magnet" href="${MAGNET}">magnet</a>
        <a id="torrent" href="/files/demo.torrent">torrent</a>
        <a id="plain" href="/other.html">plain</a>
        <a id="nosuffix" href="/demo">tracker-style link</a>
        <a id="scripted" href="/files/scripted.torrent">clicked by a script</a>`,
    },
    '/other.html': { type: 'text/html', body: '<title>other</title>other' },
    '/files/demo.torrent': { type: 'application/x-bittorrent', body: fakeTorrentBytes() },
    '/files/scripted.torrent': { type: 'application/x-bittorrent', body: fakeTorrentBytes() },
    '/demo': {
      type: 'application/x-bittorrent',
      body: fakeTorrentBytes(),
      headers: { 'content-disposition': 'attachment; filename="demo.torrent"' },
    },
  });
  // No NativeMessagingHosts directory in this profile: the helper is missing.
  ({ context, worker } = await launchChromium(out.chromium, path.join(dir.path, 'profile')));
});

after(async () => {
  await context?.close();
  await web?.close();
  await dir?.remove();
});

async function lastIntercept() {
  return worker.evaluate(() => globalThis.swarmlinkDebug());
}

async function openPopup() {
  const page = await context.newPage();
  await page.setViewportSize({ width: 440, height: 520 });
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/popup.html`);
  return page;
}

test('the extension loads with its fixed id', () => {
  assert.ok(worker.url().startsWith(`chrome-extension://${IDS.chromium_extension_id}/`));
});

test('the popup shows the helper-missing screen with the exact install command', async () => {
  const page = await openPopup();
  await page.locator('#setup[data-helper=missing]').waitFor();
  const command = await page.locator('#install-command').textContent();
  assert.equal(command, `bthelper install --browser chromium --extension-id ${IDS.chromium_extension_id}`);
  // This is Linux: the package comes first (it needs no command), then the tarball's way.
  assert.equal(await page.locator('#install-steps').getAttribute('data-os'), 'linux');
  assert.match(await page.locator('#install-package').textContent(), /swarmlink package .*swarmlink_\*\.deb/);
  assert.doesNotMatch(await page.locator('#setup').textContent(), /cargo install/);
  assert.equal(await page.locator('#retry').textContent(), 'Check again');
  assert.match(await page.locator('#helper-error').textContent(), /native messaging host not found/i);
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-helper-missing.png') });
  assert.deepEqual(await axeViolations(page), []);
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-helper-missing-dark.png') });
  assert.deepEqual(await axeViolations(page), []);
  const badge = await worker.evaluate(() => chrome.action.getBadgeText({}));
  assert.equal(badge, '!');
  await page.close();
});

test('a plain click on a magnet link is caught and reaches the background', async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  await page.click('#magnet');
  const toast = page.locator('swarmlink-toast[data-kind=missing]');
  await toast.waitFor();
  const { lastIntercept: seen } = await lastIntercept();
  assert.equal(seen.via, 'click');
  assert.equal(seen.url, MAGNET);
  assert.equal(seen.ok, false);
  assert.equal(seen.helper, 'missing');
  assert.equal(page.url(), `${web.origin}/`);
  await page.close();
});

test('a plain click on a .torrent link fetches it with cookies before asking the helper', async () => {
  await context.addCookies([{ name: 'session', value: 'secret', url: web.origin }]);
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  const before = web.requests.length;
  await page.click('#torrent');
  await page.locator('swarmlink-toast[data-kind=missing]').waitFor();
  const fetched = web.requests.slice(before).find((r) => r.url === '/files/demo.torrent');
  assert.ok(fetched, 'the extension fetched the .torrent');
  assert.match(fetched.cookie, /session=secret/);
  const { lastIntercept: seen } = await lastIntercept();
  assert.equal(seen.url, `${web.origin}/files/demo.torrent`);
  await page.close();
});

test('modifier clicks and ordinary links keep browser behaviour', async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  const { lastIntercept: beforeClick } = await lastIntercept();
  await page.click('#plain');
  await page.waitForURL(`${web.origin}/other.html`);
  await page.goBack();
  const popupPromise = context.waitForEvent('page');
  await page.click('#torrent', { modifiers: ['Control'] });
  const opened = await popupPromise;
  await opened.close();
  // Alt-click is "save link": the browser's own download, which the download path lets through.
  await page.click('#torrent', { modifiers: ['Alt'] });
  const saved = await waitFor('the browser to save the .torrent itself', async () => {
    const items = await worker.evaluate(() => chrome.downloads.search({}));
    return items.find((i) => i.url === `${web.origin}/files/demo.torrent`);
  });
  assert.notEqual(saved.state, 'interrupted');
  const { lastIntercept: afterClick } = await lastIntercept();
  assert.equal(afterClick?.at, beforeClick?.at, 'nothing was intercepted');
  assert.equal(await page.locator('swarmlink-toast').count(), 0);
  await worker.evaluate(() => chrome.downloads.erase({}));
  await page.close();
});

test('a top-level .torrent navigation is redirected to the confirm page', async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/files/demo.torrent?typed=1`).catch(() => {});
  await waitFor('the redirect', () => page.url().startsWith(`chrome-extension://${IDS.chromium_extension_id}/pages/confirm.html#`));
  await page.locator('#ask:not([hidden])').waitFor();
  assert.equal(await page.locator('#torrent-url').textContent(), `${web.origin}/files/demo.torrent?typed=1`);
  await page.click('#confirm');
  await page.locator('#result[data-kind=missing]').waitFor();
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-intercept-page.png') });
  const { lastIntercept: seen } = await lastIntercept();
  assert.equal(seen.via, 'navigation');
  await page.close();
});

test('an application/x-bittorrent download is cancelled, erased and handed to the confirm page', async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  const confirmPage = context.waitForEvent('page', (p) => p.url().includes('/pages/confirm.html#'));
  await page.click('#nosuffix');
  await waitFor('the download path', async () => (await lastIntercept()).lastIntercept?.via === 'download');
  const { lastIntercept: seen } = await lastIntercept();
  assert.equal(seen.url, `${web.origin}/demo`);
  assert.equal(seen.code, 'confirm', 'a download is never added without the confirm page');
  const items = await worker.evaluate(() => chrome.downloads.search({}));
  assert.deepEqual(items, [], 'the download was erased from the list');
  const opened = await confirmPage;
  await opened.locator('#torrent-url').filter({ hasText: `${web.origin}/demo` }).waitFor();
  assert.equal(await opened.locator('#name').textContent(), 'demo.bin');
  assert.equal(await opened.locator('#site').textContent(), web.origin);
  await opened.close();
  await page.close();
});

test('turning click interception off lets the link through', async () => {
  await worker.evaluate(() => chrome.storage.local.set({ interceptClicks: false }));
  try {
    const page = await context.newPage();
    await page.goto(`${web.origin}/`);
    await waitFor('the content script to see the toggle', async () => {
      await page.reload();
      const before = (await lastIntercept()).lastIntercept?.at;
      await page.click('#magnet');
      await new Promise((r) => setTimeout(r, 300));
      return (await lastIntercept()).lastIntercept?.at === before && (await page.locator('swarmlink-toast').count()) === 0;
    });
    await page.close();
  } finally {
    await worker.evaluate(() => chrome.storage.local.set({ interceptClicks: true }));
  }
});

test('the popup view renders every state (fixture data, light and dark)', async () => {
  const { FIXTURE_TORRENTS } = await import('./fixtures.mjs');
  const page = await context.newPage();
  await page.setViewportSize({ width: 440, height: 600 });
  // An extension page with no logic of its own; the popup's markup and view are loaded into it.
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/intercept.html`);
  await page.evaluate(async (torrents) => {
    const html = await (await fetch('/pages/popup.html')).text();
    document.documentElement.innerHTML = new DOMParser()
      .parseFromString(html, 'text/html')
      .documentElement.innerHTML.replace(/<script[^>]*><\/script>/g, '');
    const { PopupView } = await import('/pages/popup-view.js');
    const { reduce, initialState } = await import('/lib/store.js');
    const { icon } = await import('/pages/icons.js');
    document.getElementById('open-options').append(icon(document, 'settings'));
    let state = reduce(initialState(), { type: 'helper', status: 'ready', info: { helper: 'bthelper', version: '0.1.0', protocol: 1 } });
    state = reduce(state, { type: 'list', torrents });
    const view = new PopupView(document, { command: async () => {}, retry() {}, copy() {} });
    view.render(state, { browser: 'chromium', extensionId: 'x' });
    window.view = view;
    window.state = state;
  }, FIXTURE_TORRENTS);
  await page.locator('link[href="popup.css"]').evaluate((l) => l.sheet || new Promise((r) => l.addEventListener('load', r)));
  assert.equal(await page.locator('li.torrent').count(), 5);
  assert.equal(await page.locator('#helper-version').textContent(), 'helper 0.1.0', 'the header shows the helper\'s version');
  const first = page.locator('li.torrent[data-state=downloading]');
  assert.equal(await first.locator('.percent').textContent(), '42.1%');
  assert.equal(await first.locator('[role=progressbar]').getAttribute('aria-valuenow'), '42.1');
  assert.match(await first.locator('.summary').textContent(), /2 min left/);
  assert.match(await page.locator('#total-down').textContent(), /4\.50 MiB\/s/);
  assert.equal(await page.locator('li.torrent[data-state=paused] button[aria-label=Resume]').count(), 1);
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-view-light.png') });
  assert.deepEqual(await axeViolations(page), [], 'light theme passes WCAG 2.1 AA checks');
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-view-dark.png') });
  assert.deepEqual(await axeViolations(page), [], 'dark theme passes WCAG 2.1 AA checks');
  await page.emulateMedia({ colorScheme: 'light' });
  // Keyboard: the header's buttons (all downloads, settings), then the paste field, its buttons,
  // then the first torrent's actions.
  await page.locator('body').focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'open-downloads');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'open-options');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'add-input');
  await page.locator('li.torrent[data-state=seeding] button[aria-label=Remove]').click();
  await page.locator('.confirm .delete-files').waitFor();
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-view-remove.png') });
  // A name with a right-to-left override and a newline is shown escaped, never raw.
  await page.evaluate(() => {
    const t = { ...window.state.torrents[window.state.order[0]], info_hash: '6'.repeat(40), name: 'clip\u202Egnp.exe\nx' };
    window.view.render({ ...window.state, torrents: { [t.info_hash]: t }, order: [t.info_hash] });
  });
  assert.equal(await page.locator(`li.torrent .name`).first().textContent(), 'clip<U+202E>gnp.exe<U+000A>x');
  // Opening a finished program: the helper answers `confirm_executable`; the popup asks, with
  // Cancel focused, and only "Run it" sends `open` again with the confirmation.
  await page.evaluate(() => {
    window.sent = [];
    window.view.actions.command = async (cmd, args) => {
      window.sent.push({ cmd, args });
      if (cmd === 'open' && !args.confirm_executable) {
        const err = new Error('setup.exe is a Windows program (.exe): opening it runs it.');
        err.code = 'confirm_executable';
        throw err;
      }
      return {};
    };
    const t = { ...window.state.torrents[window.state.order[0]], info_hash: '7'.repeat(40), name: 'setup.exe', state: 'seeding', progress: 1 };
    window.view.render({ ...window.state, torrents: { [t.info_hash]: t }, order: [t.info_hash] });
  });
  await page.locator('li.torrent button[aria-label="Open file"]').click();
  await page.locator('.confirm .confirm-run').waitFor();
  assert.match(await page.locator('.confirm span').textContent(), /Windows program \(\.exe\).*Run it anyway\?/);
  assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Cancel', 'Cancel has the focus');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('.confirm').count(), 0);
  assert.deepEqual(await page.evaluate(() => window.sent.map((s) => s.args.confirm_executable || false)), [false]);
  await page.locator('li.torrent button[aria-label="Open file"]').click();
  await page.locator('.confirm .confirm-run').click();
  await waitFor('the confirmed open', async () => (await page.evaluate(() => window.sent.length)) === 3);
  assert.deepEqual(await page.evaluate(() => window.sent.map((s) => [s.cmd, s.args.confirm_executable || false])), [
    ['open', false],
    ['open', false],
    ['open', true],
  ]);
  assert.equal(await page.locator('.confirm').count(), 0, 'the question closes once answered');
  await page.evaluate(() => {
    window.view.render({ ...window.state, torrents: {}, order: [] });
  });
  await page.locator('.empty').waitFor();
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-empty.png') });
  // A helper older than the protocol the extension needs: said in so many words, no version shown.
  await page.evaluate(async () => {
    const { reduce } = await import('/lib/store.js');
    const { helperTooOld } = await import('/lib/protocol.js');
    const error = helperTooOld({ helper: 'bthelper', version: '0.0.9', protocol: 0 });
    window.view.render(reduce(window.state, { type: 'helper', status: 'outdated', error }));
  });
  await page.locator('#setup[data-helper=outdated]').waitFor();
  assert.equal(await page.locator('#setup-title').textContent(), 'The Swarmlink helper is too old');
  assert.match(await page.locator('#setup').textContent(), /bthelper 0\.0\.9 speaks helper protocol 0; this extension needs protocol 1/);
  assert.equal(await page.locator('#helper-version').textContent(), '');
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-popup-helper-outdated.png') });
  await page.close();
});

test('the options page toggles interception (the navigation rule goes away) and is accessible', async () => {
  const page = await context.newPage();
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/options.html`);
  await page.locator('#helper-status[data-kind=error]').waitFor();
  assert.match(await page.locator('#helper-status').textContent(), /not available/);
  assert.deepEqual(await axeViolations(page), []);
  const rules = () => worker.evaluate(() => chrome.declarativeNetRequest.getDynamicRules());
  assert.equal((await rules()).length, 1);
  await page.locator('#interceptNavigation').uncheck();
  await waitFor('the navigation rule to be removed', async () => (await rules()).length === 0);
  assert.equal(await worker.evaluate(() => chrome.storage.local.get('interceptNavigation').then((s) => s.interceptNavigation)), false);
  await page.locator('#interceptNavigation').check();
  await waitFor('the navigation rule to come back', async () => (await rules()).length === 1);
  await page.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-options-no-helper.png'), fullPage: true });
  await page.close();
});

test('a click synthesised by the page is not taken as the user\'s', async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  const before = (await lastIntercept()).lastIntercept?.at;
  // el.click() from page script: an untrusted event; the navigation it starts is the browser's.
  await page.evaluate(() => document.getElementById('scripted').click());
  await waitFor('the redirect to the confirm page', () => page.url().startsWith(`chrome-extension://${IDS.chromium_extension_id}/pages/confirm.html#`));
  const { lastIntercept: seen } = await lastIntercept();
  assert.notEqual(seen.at, before);
  assert.equal(seen.via, 'navigation');
  assert.equal(seen.code, 'confirm', 'nothing was added without the user');
  await page.close();
});
