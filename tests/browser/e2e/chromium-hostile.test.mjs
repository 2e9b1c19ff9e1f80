// Chromium with the real bthelper: a hostile page on loopback tries every way it can to get a
// torrent into the helper without the user (issue 14, section 1). Each attempt must end on the
// confirm page (or nowhere) with nothing added, which the helper itself is asked
// (`bthelper list --json`). Then the user confirms one and it is added, and a real click on a
// listing link still adds with one click. Content-script spoofs (what a compromised renderer could
// send) run in the content script's own isolated world over CDP.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import {
  builtExtension,
  tempDir,
  artifactsDir,
  waitFor,
  launchChromium,
  workspaceBinaries,
  registerChromiumHost,
  startWebServer,
  torrentNamed,
  stopPid,
  IDS,
} from './harness.mjs';
import { findFile } from './swarm.mjs';

const bins = await workspaceBinaries(['bthelper']);
const pending = bins.pending ? `pending: bthelper is not ready (${bins.pending})` : false;

const BT = 'application/x-bittorrent';
const EXT = `chrome-extension://${IDS.chromium_extension_id}`;
const MAGNET = 'magnet:?xt=urn:btih:5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e&dn=synthetic';
const RTLO_NAME = 'holiday\u202Egpj.exe';
let dir;
let web;
let context;
let worker;
let helperHome;
let artifacts;

const torrent = (name) => ({ type: BT, body: torrentNamed(name) });

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('chromium-hostile');
  helperHome = path.join(dir.path, 'swarmlink');
  web = await startWebServer({
    '/': {
      type: 'text/html',
      body: `<!doctype html><title>listing</title><a id="listed" href="/files/listed.bin.torrent">listed.bin</a>
        <a id="typed" type="application/x-bittorrent" href="/typed">typed.bin</a>`,
    },
    '/hostile': {
      type: 'text/html',
      body: `<!doctype html><title>hostile</title>
        <a id="dl" download href="/a/scripted.bin.torrent">x</a>
        <a id="mag" href="${MAGNET}">m</a>
        <form id="post" method="post" action="/post"><input name="q" value="1"></form>
        <iframe id="inner" src="/inner" width="300" height="80"></iframe>`,
    },
    '/inner': { type: 'text/html', body: '<!doctype html><title>inner</title><p>framed</p>' },
    // A real click meant for the page's button lands on a near-invisible link laid over it.
    '/ghost': {
      type: 'text/html',
      body: `<!doctype html><title>ghost</title><button id="play" style="margin:100px">Play</button>
        <a id="ghost" href="/ghost.bin.torrent" style="position:fixed;inset:0;opacity:0.02;background:#fff">.</a>`,
    },
    '/ghost.bin.torrent': torrent('ghost.bin'),
    '/a/scripted.bin.torrent': torrent('scripted.bin'),
    '/frame.bin.torrent': torrent('iframe.bin'),
    '/t': torrent('nosuffix.bin'),
    '/nav.bin.torrent': torrent('navigation.bin'),
    '/redirect': { type: 'text/plain', status: 302, headers: { location: '/redirected' }, body: '' },
    '/redirected': torrent('redirect.bin'),
    '/opened.bin.torrent': torrent('window-open.bin'),
    '/post': torrent('form-post.bin'),
    '/spoof.bin.torrent': torrent('spoof.bin'),
    '/framed-click.bin.torrent': torrent('framed-click.bin'),
    '/rtlo': torrent(RTLO_NAME),
    '/files/listed.bin.torrent': torrent('listed.bin'),
    '/typed': torrent('typed.bin'),
    ...Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`/many/${i}.torrent`, torrent(`many-${i}.bin`)])),
  });
  const profile = path.join(dir.path, 'profile');
  await registerChromiumHost(bins.bthelper, profile);
  ({ context, worker } = await launchChromium(out.chromium, profile, {
    env: { ...process.env, SWARMLINK_HOME: helperHome },
  }));
});

after(async () => {
  await context?.close();
  if (helperHome) {
    const lock = await findFile(helperHome, 'daemon.lock');
    if (lock) stopPid(Number((await readFile(lock, 'utf8')).trim()));
  }
  await web?.close();
  await dir?.remove();
});

/** The names of the torrents in the helper, asked of the helper itself. */
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

const debug = () => worker.evaluate(() => globalThis.swarmlinkDebug().lastIntercept);

/** The confirm page (a new tab, or the attacking tab turned into it) showing `url`. */
async function confirmPageFor(url) {
  return waitFor(`the confirm page for ${url}`, async () => {
    for (const p of context.pages()) {
      if (!p.url().startsWith(`${EXT}/pages/confirm.html#`)) continue;
      const shown = await p.locator('#torrent-url').textContent({ timeout: 1000 }).catch(() => null);
      if (shown === url) return p;
    }
    return null;
  }, { timeoutMs: 30000, intervalMs: 200 });
}

/** Checks the page asks without handing the user a ready button, then cancels. */
async function assertAsksAndCancel(ask, expectedName) {
  await ask.locator('#ask:not([hidden])').waitFor();
  if (expectedName) await ask.locator('#name', { hasText: expectedName }).waitFor();
  assert.notEqual(await ask.evaluate(() => document.activeElement && document.activeElement.id), 'confirm', 'not auto-focused');
  const closed = ask.waitForEvent('close');
  await ask.click('#cancel').catch((err) => {
    if (!ask.isClosed()) throw err; // the tab may close under the click itself
  });
  // Cancel closes the tab it was opened in (the page says "Cancelled" where it cannot).
  await Promise.race([closed, ask.locator('#result', { hasText: 'Cancelled' }).waitFor()]).catch(() => {});
  if (!ask.isClosed()) await ask.close();
}

async function hostilePage() {
  const page = await context.newPage();
  await page.goto(`${web.origin}/hostile`);
  return page;
}

/** Runs `expression` in the content script's isolated world of the frame whose URL is `frameUrl`. */
async function inContentScript(page, frameUrl, expression) {
  const cdp = await context.newCDPSession(page);
  const contexts = [];
  cdp.on('Runtime.executionContextCreated', ({ context: c }) => contexts.push(c));
  await cdp.send('Runtime.enable');
  const frames = (await cdp.send('Page.getFrameTree')).frameTree;
  const all = [frames, ...(frames.childFrames || [])];
  const frame = all.find((f) => f.frame.url === frameUrl);
  assert.ok(frame, `frame ${frameUrl}`);
  const world = await waitFor('the content script world', () =>
    contexts.find((c) => c.auxData && c.auxData.frameId === frame.frame.id && c.auxData.type === 'isolated' && c.name === 'Swarmlink'),
  );
  const { result, exceptionDetails } = await cdp.send('Runtime.evaluate', {
    expression,
    contextId: world.id,
    awaitPromise: true,
    returnByValue: true,
  });
  await cdp.detach();
  if (exceptionDetails) throw new Error(JSON.stringify(exceptionDetails));
  return result.value;
}

// Each attack: what the page does, and the URL the confirm page must then show.
const ATTACKS = [
  ['a scripted click() on <a download> to a .torrent', (p) => p.evaluate(() => document.getElementById('dl').click()), '/a/scripted.bin.torrent', 'scripted.bin'],
  ['a hidden iframe loading a .torrent', (p) => p.evaluate(() => {
    const f = document.createElement('iframe');
    f.style.display = 'none';
    f.src = '/frame.bin.torrent';
    document.body.append(f);
  }), '/frame.bin.torrent', 'iframe.bin'],
  ["location = '/t' (no suffix, served as application/x-bittorrent)", (p) => p.evaluate(() => {
    location = '/t';
  }), '/t', 'nosuffix.bin'],
  ['a scripted navigation to a .torrent URL', (p) => p.evaluate(() => {
    location = '/nav.bin.torrent';
  }), '/nav.bin.torrent', 'navigation.bin'],
  ['a 302 redirect to a torrent', (p) => p.evaluate(() => {
    location = '/redirect';
  }), '/redirected', 'redirect.bin'],
  ['window.open of a .torrent', (p) => p.evaluate(() => {
    window.open('/opened.bin.torrent');
  }), '/opened.bin.torrent', 'window-open.bin'],
  ['a scripted form POST answered with a torrent', (p) => p.evaluate(() => document.getElementById('post').submit()), '/post', 'form-post.bin'],
  ['an untrusted click spoofed from the content script', (p) => inContentScript(p, `${web.origin}/hostile`,
    `chrome.runtime.sendMessage({ type: 'intercept', url: location.origin + '/spoof.bin.torrent', trusted: false })`), '/spoof.bin.torrent', 'spoof.bin'],
  ['a "trusted" click claimed from inside a frame', (p) => inContentScript(p, `${web.origin}/inner`,
    `chrome.runtime.sendMessage({ type: 'intercept', url: location.origin + '/framed-click.bin.torrent', trusted: true })`), '/framed-click.bin.torrent', 'framed-click.bin'],
];

for (const [what, attack, where, name] of ATTACKS) {
  test(`hostile page: ${what} opens the confirm page and adds nothing`, { skip: pending, timeout: 90000 }, async () => {
    const page = await hostilePage();
    await attack(page);
    const ask = await confirmPageFor(`${web.origin}${where}`);
    const seen = await debug();
    assert.equal(seen.code, 'confirm', JSON.stringify(seen));
    assert.ok(!helperNames().includes(name), `${name} was not added`);
    await assertAsksAndCancel(ask, name);
    assert.ok(!helperNames().includes(name), `${name} was not added after cancelling`);
    assert.deepEqual(await worker.evaluate(() => chrome.downloads.search({})), [], 'no stray .torrent in downloads');
    if (!page.isClosed()) await page.close();
  });
}

test('hostile page: a synthetic MouseEvent on a magnet link reaches nothing', { skip: pending, timeout: 60000 }, async () => {
  const page = await hostilePage();
  const before = await debug();
  await page.evaluate(() => document.getElementById('mag').dispatchEvent(new MouseEvent('click', { bubbles: true, cancelable: true, button: 0 })));
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual(await debug(), before, 'the background saw nothing');
  assert.ok(!helperNames().includes('synthetic'));
  assert.equal(await page.locator('swarmlink-toast').count(), 0);
  await page.close();
});

test('a compromised content script gets no helper command, no port, no confirmation', { skip: pending, timeout: 90000 }, async () => {
  const page = await hostilePage();
  // Make one confirmation wait, then try to confirm it from the page's content script.
  await page.evaluate(() => document.getElementById('dl').click());
  const ask = await confirmPageFor(`${web.origin}/a/scripted.bin.torrent`);
  const { pending: id } = await debug();
  assert.ok(id);
  const replies = await inContentScript(page, `${web.origin}/hostile`, `(async () => {
    const send = (m) => chrome.runtime.sendMessage(m).then((r) => r === undefined ? 'no reply' : r, (e) => 'refused: ' + e.message);
    const out = {};
    out.confirm = await send({ type: 'confirm', id: ${JSON.stringify(id)} });
    out.pending = await send({ type: 'pending', id: ${JSON.stringify(id)} });
    out.command = await send({ type: 'command', cmd: 'add', args: { magnet: ${JSON.stringify(MAGNET)} } });
    out.settings = await send({ type: 'command', cmd: 'set_settings', args: { settings: { download_dir: '/tmp' } } });
    out.navigation = await send({ type: 'navigation', url: location.origin + '/t' });
    out.port = await new Promise((resolve) => {
      const port = chrome.runtime.connect({ name: 'popup' });
      const got = [];
      port.onMessage.addListener((m) => got.push(m.type));
      port.onDisconnect.addListener(() => resolve('disconnected after ' + JSON.stringify(got)));
      port.postMessage({ type: 'add-link', url: ${JSON.stringify(MAGNET)}, rid: 1 });
      port.postMessage({ type: 'command', cmd: 'add', args: { magnet: ${JSON.stringify(MAGNET)} }, rid: 2 });
      setTimeout(() => resolve('still open after ' + JSON.stringify(got)), 3000);
    });
    return out;
  })()`);
  for (const key of ['confirm', 'pending', 'command', 'settings', 'navigation']) {
    assert.ok(replies[key] === 'no reply' || String(replies[key]).startsWith('refused'), `${key}: ${JSON.stringify(replies[key])}`);
  }
  assert.equal(replies.port, 'disconnected after []', 'the popup port refuses a content script');
  const names = helperNames();
  assert.ok(!names.includes('scripted.bin') && !names.includes('synthetic'), JSON.stringify(names));
  // The confirmation is still there for the user, untouched by the page.
  await assertAsksAndCancel(ask, 'scripted.bin');
  await page.close();
});

test('the confirm page shows a bidi-override name escaped, and its button arms late and disarms when hidden', { skip: pending, timeout: 60000 }, async () => {
  const page = await hostilePage();
  await page.evaluate(() => {
    location = '/rtlo';
  });
  const ask = await confirmPageFor(`${web.origin}/rtlo`);
  await ask.locator('#ask:not([hidden])').waitFor();
  assert.equal(await ask.locator('#name').textContent(), 'holiday<U+202E>gpj.exe');
  assert.equal(await ask.locator('#site').textContent(), web.origin);
  assert.match(await ask.locator('#save-dir').textContent(), new RegExp(helperHome.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  assert.equal(await ask.locator('#files').textContent(), '1');
  await ask.locator('#confirm:not([disabled])').waitFor({ timeout: 10000 });
  await ask.screenshot({ animations: 'disabled', path: path.join(artifacts, 'chromium-confirm-page.png') });
  // Hidden, the button disarms at once and needs a fresh second when the page is back. Headless
  // Chromium keeps every tab 'visible', so the page is told it was hidden the way the browser
  // tells it: visibilityState and a visibilitychange event.
  const setVisibility = (state) =>
    ask.evaluate((v) => {
      Object.defineProperty(document, 'visibilityState', { value: v, configurable: true });
      document.dispatchEvent(new Event('visibilitychange'));
    }, state);
  await setVisibility('hidden');
  assert.equal(await ask.locator('#confirm').isDisabled(), true, 'disarmed while hidden');
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(await ask.locator('#confirm').isDisabled(), true, 'stays disarmed while hidden');
  await setVisibility('visible');
  assert.equal(await ask.locator('#confirm').isDisabled(), true, 'not armed the instant it shows again');
  await ask.locator('#confirm:not([disabled])').waitFor({ timeout: 10000 });
  await assertAsksAndCancel(ask, null);
  assert.ok(!helperNames().includes(RTLO_NAME));
  if (!page.isClosed()) await page.close();
});

test('the user confirms on the confirm page: then, and only then, it is added', { skip: pending, timeout: 90000 }, async () => {
  const page = await hostilePage();
  await page.evaluate(() => document.getElementById('dl').click());
  const ask = await confirmPageFor(`${web.origin}/a/scripted.bin.torrent`);
  assert.equal(await ask.locator('#confirm').isDisabled(), true, 'disabled at first');
  assert.ok(!helperNames().includes('scripted.bin'));
  await ask.click('#confirm');
  await ask.locator('#result[data-kind=ok]').waitFor({ timeout: 30000 });
  assert.match(await ask.locator('#result').textContent(), /scripted\.bin/);
  await waitFor('scripted.bin in the helper', () => helperNames().includes('scripted.bin'), { timeoutMs: 30000, intervalMs: 500 });
  const seen = await debug();
  assert.equal(seen.confirmed, true);
  assert.equal(seen.via, 'download');
  await ask.close();
  await page.close();
});

test('a real click on a listing link still adds with one click', { skip: pending, timeout: 90000 }, async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  const pagesBefore = context.pages().length;
  await page.click('#listed');
  await page.locator('swarmlink-toast[data-kind=ok]').waitFor({ timeout: 30000 });
  await waitFor('listed.bin in the helper', () => helperNames().includes('listed.bin'), { timeoutMs: 30000, intervalMs: 500 });
  const seen = await debug();
  assert.equal(seen.via, 'click');
  assert.ok(seen.ok && !seen.confirmed, JSON.stringify(seen));
  assert.equal(context.pages().length, pagesBefore, 'no confirm page for a real click');
  // The page cannot read the toast (closed shadow root).
  assert.equal(await page.evaluate(() => document.querySelector('swarmlink-toast').shadowRoot), null);
  await page.close();
});

test('a page cannot frame the confirm page, and the framed redirect page does nothing', { skip: pending, timeout: 60000 }, async () => {
  const page = await hostilePage();
  // A real pending id, so a framed confirm page would have something to show.
  await page.evaluate(() => document.getElementById('dl').click());
  const ask = await confirmPageFor(`${web.origin}/a/scripted.bin.torrent`);
  const before = await debug();
  await page.evaluate(({ ext, id, origin }) => {
    for (const src of [`${ext}/pages/confirm.html#${id}`, `${ext}/pages/intercept.html#${origin}/framed.bin.torrent`]) {
      const f = document.createElement('iframe');
      f.src = src;
      document.body.append(f);
    }
  }, { ext: EXT, id: before.pending, origin: web.origin });
  const trampoline = await waitFor('the framed intercept page', () => page.frames().find((f) => f.url().startsWith(`${EXT}/pages/intercept.html`)));
  await trampoline.locator('#result', { hasText: 'does not run inside frames' }).waitFor();
  // The confirm page is not web-accessible: the browser refuses to load it in the frame.
  const framedConfirm = page.frames().find((f) => f.url().startsWith(`${EXT}/pages/confirm.html`));
  const loaded = framedConfirm ? await framedConfirm.evaluate(() => !!document.getElementById('confirm')).catch(() => false) : false;
  assert.equal(loaded, false, 'the confirm page did not load in a frame');
  assert.deepEqual(await debug(), before, 'the framed pages reached nothing');
  await assertAsksAndCancel(ask, 'scripted.bin');
  await page.close();
});

test('a page starting ten downloads gets at most five confirm pages; closing one lets its link ask again', { skip: pending, timeout: 90000 }, async () => {
  const confirmPages = () => context.pages().filter((p) => p.url().startsWith(`${EXT}/pages/confirm.html#`));
  assert.equal(confirmPages().length, 0);
  const page = await hostilePage();
  await page.evaluate(() => {
    for (let i = 0; i < 10; i++) {
      const a = document.createElement('a');
      a.download = '';
      a.href = `/many/${i}.torrent`;
      document.body.append(a);
      a.click();
    }
  });
  await waitFor('five confirm pages', () => confirmPages().length === 5, { timeoutMs: 30000 });
  await new Promise((r) => setTimeout(r, 2000));
  assert.equal(confirmPages().length, 5, 'no more than five');
  assert.equal((await debug()).code, 'too_many');
  const asked = [];
  for (const p of confirmPages()) {
    asked.push(await p.locator('#torrent-url').textContent());
    await p.close();
  }
  const again = asked[0];
  await page.evaluate((href) => {
    const a = document.createElement('a');
    a.download = '';
    a.href = href;
    document.body.append(a);
    a.click();
  }, again);
  const ask = await confirmPageFor(again);
  const names = helperNames();
  assert.ok(!names.some((n) => n.startsWith('many-')), JSON.stringify(names));
  await assertAsksAndCancel(ask, null);
  await page.close();
});

test('a real click on a near-invisible link laid over the page goes to the confirm page', { skip: pending, timeout: 60000 }, async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/ghost`);
  const box = await page.locator('#play').boundingBox();
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
  const ask = await confirmPageFor(`${web.origin}/ghost.bin.torrent`);
  await page.locator('swarmlink-toast[data-kind=confirm]').waitFor();
  const seen = await debug();
  assert.equal(seen.via, 'click');
  assert.equal(seen.code, 'confirm');
  assert.ok(!helperNames().includes('ghost.bin'));
  await assertAsksAndCancel(ask, 'ghost.bin');
  await page.close();
});

test('a real click on a suffix-less link the page types as application/x-bittorrent adds with one click', { skip: pending, timeout: 60000 }, async () => {
  const page = await context.newPage();
  await page.goto(`${web.origin}/`);
  await page.click('#typed');
  await page.locator('swarmlink-toast[data-kind=ok]').waitFor({ timeout: 30000 });
  await waitFor('typed.bin in the helper', () => helperNames().includes('typed.bin'), { timeoutMs: 30000, intervalMs: 500 });
  const seen = await debug();
  assert.equal(seen.via, 'click');
  assert.equal(seen.url, `${web.origin}/typed`);
  assert.deepEqual(await worker.evaluate(() => chrome.downloads.search({})), [], 'the browser did not download it too');
  await page.close();
});
