import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import vm from 'node:vm';
import zlib from 'node:zlib';
import path from 'node:path';
import { build } from '../build.mjs';

const ids = JSON.parse(await readFile(new URL('../../manifests/extension-ids.json', import.meta.url), 'utf8'));
const out = await build({ zip: true });
const manifest = async (browser) => JSON.parse(await readFile(path.join(out[browser], 'manifest.json'), 'utf8'));

test('the Chromium key yields the fixed extension id', async () => {
  const m = await manifest('chromium');
  const digest = createHash('sha256').update(Buffer.from(m.key, 'base64')).digest('hex').slice(0, 32);
  const id = [...digest].map((c) => String.fromCharCode(97 + parseInt(c, 16))).join('');
  assert.equal(id, ids.chromium_extension_id);
  assert.deepEqual(m.background, { service_worker: 'background.js', type: 'module' });
  assert.equal(m.browser_specific_settings, undefined);
});

test('Firefox gets background scripts and the gecko id, no key', async () => {
  const m = await manifest('firefox');
  assert.equal(m.browser_specific_settings.gecko.id, ids.firefox_addon_id);
  assert.deepEqual(m.background, { scripts: ['background.js'], type: 'module' });
  assert.equal(m.key, undefined);
});

test('permissions stay minimal and the CSP strict', async () => {
  const m = await manifest('chromium');
  assert.deepEqual([...m.permissions].sort(), [
    'contextMenus',
    'declarativeNetRequestWithHostAccess',
    'downloads',
    'nativeMessaging',
    'notifications',
    'storage',
  ]);
  const csp = m.content_security_policy.extension_pages;
  assert.match(csp, /script-src 'self';/);
  // The one wildcard: the helper's streaming server is on loopback at a port of its own.
  assert.match(csp, /media-src http:\/\/127\.0\.0\.1:\* http:\/\/\[::1\]:\* blob:;/);
  assert.doesNotMatch(csp.replace('http://127.0.0.1:* http://[::1]:*', ''), /unsafe|\*/);
});

test('every file the manifest names exists', async () => {
  const m = await manifest('chromium');
  const named = [
    ...Object.values(m.icons),
    m.action.default_popup,
    m.options_ui.page,
    m.background.service_worker,
    ...m.content_scripts.flatMap((c) => c.js),
    ...m.web_accessible_resources.flatMap((w) => w.resources),
  ];
  for (const file of named) await readFile(path.join(out.chromium, file));
});

test('the generated content script is a classic script that installs capture click listeners', async () => {
  const code = await readFile(path.join(out.chromium, 'content.js'), 'utf8');
  const listeners = [];
  const context = {
    chrome: {
      storage: { local: { get: async () => ({}) }, onChanged: { addListener() {} } },
      runtime: { sendMessage: async () => ({}) },
    },
    window: { addEventListener: (type, fn, capture) => listeners.push({ type, capture }) },
  };
  vm.runInNewContext(code, context);
  assert.deepEqual(listeners, [
    { type: 'auxclick', capture: true },
    { type: 'click', capture: true },
  ]);
});

test('only the redirect trampoline is web-accessible: the confirm page cannot be opened or framed by a site', async () => {
  for (const browser of ['chromium', 'firefox']) {
    const m = await manifest(browser);
    const exposed = m.web_accessible_resources.flatMap((w) => w.resources);
    assert.deepEqual(exposed, ['pages/intercept.html'], browser);
  }
  await readFile(path.join(out.chromium, 'pages/confirm.html'));
  const confirmPage = await readFile(path.join(out.chromium, 'pages/confirm.html'), 'utf8');
  assert.doesNotMatch(confirmPage, /autofocus/);
  assert.match(confirmPage, /id="confirm" disabled/, 'the Download button starts disabled');
});

test('the content script neutralises names and keeps its toast in a closed shadow root', async () => {
  const code = await readFile(path.join(out.chromium, 'content.js'), 'utf8');
  assert.match(code, /function displayText\(/);
  assert.match(code, /attachShadow\(\{ mode: 'closed' \}\)/);
  assert.doesNotMatch(code, /mode: 'open'/);
  assert.doesNotMatch(code, /outcome\.error/, 'helper error text never reaches the page');
});

/** name -> contents of every file in a zip `build` wrote (stored or deflated, CRCs checked). */
async function unzip(zipPath) {
  const zip = await readFile(zipPath);
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const files = new Map();
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString();
    const local = zip.readUInt32LE(at + 42);
    const size = zip.readUInt32LE(at + 20);
    const start = local + 30 + zip.readUInt16LE(local + 26);
    const data = zlib.inflateRawSync(zip.subarray(start, start + size));
    assert.equal(zlib.crc32(data), zip.readUInt32LE(at + 16), name);
    files.set(name, data);
    at += 46 + nameLength;
  }
  return files;
}

test('the Chrome Web Store zip carries no key; the unpacked zip and directory keep it', async () => {
  const store = await unzip(out.chromiumZip);
  const storeManifest = JSON.parse(store.get('manifest.json'));
  assert.equal(storeManifest.key, undefined);
  const { key, ...rest } = await manifest('chromium');
  assert.ok(key);
  assert.deepEqual(storeManifest, rest, 'otherwise the same manifest');
  for (const [name, data] of store) {
    if (name !== 'manifest.json') assert.deepEqual(data, await readFile(path.join(out.chromium, name)), name);
  }
  const unpacked = await unzip(out.chromiumUnpackedZip);
  assert.equal(JSON.parse(unpacked.get('manifest.json')).key, key);
  assert.deepEqual([...unpacked.keys()].sort(), [...store.keys()].sort());
});

test('the store zip holds exactly the built files, intact', async () => {
  const zip = await readFile(out.firefoxZip);
  const endAt = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(endAt + 10);
  let at = zip.readUInt32LE(endAt + 16);
  const names = [];
  for (let i = 0; i < count; i++) {
    const nameLength = zip.readUInt16LE(at + 28);
    const name = zip.subarray(at + 46, at + 46 + nameLength).toString();
    const local = zip.readUInt32LE(at + 42);
    const size = zip.readUInt32LE(at + 20);
    const start = local + 30 + zip.readUInt16LE(local + 26);
    const data = zlib.inflateRawSync(zip.subarray(start, start + size));
    assert.equal(zlib.crc32(data), zip.readUInt32LE(at + 16), name);
    assert.deepEqual(data, await readFile(path.join(out.firefox, name)));
    names.push(name);
    at += 46 + nameLength;
  }
  assert.ok(names.includes('manifest.json'));
  assert.ok(names.includes('background.js'));
  assert.ok(names.includes('pages/popup.html'));
});

test('every built script parses (modules as modules, the content script as a classic script)', async () => {
  const { spawnSync } = await import('node:child_process');
  const { readdir } = await import('node:fs/promises');
  const scripts = (await readdir(out.chromium, { recursive: true })).filter((f) => f.endsWith('.js'));
  assert.ok(scripts.length >= 8, scripts.join());
  for (const file of scripts) {
    const code = await readFile(path.join(out.chromium, file), 'utf8');
    const type = file === 'content.js' ? 'commonjs' : 'module';
    const check = spawnSync(process.execPath, [`--input-type=${type}`, '--check'], { input: code, encoding: 'utf8' });
    assert.equal(check.status, 0, `${file}: ${check.stderr}`);
  }
});
