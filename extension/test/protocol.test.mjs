import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  RpcClient,
  HelperError,
  bytesToBase64,
  looksLikeTorrent,
  addRequestFor,
  encodeFrame,
  decodeFrames,
  detectBrowser,
  installCommand,
  installSteps,
  osOf,
  helperTooOld,
  PROTOCOL_VERSION,
  classifyDisconnect,
} from '../src/lib/protocol.js';
import { withDefaults, DEFAULT_SETTINGS } from '../src/lib/settings.js';

function fakeTimers() {
  const timers = new Map();
  let next = 1;
  return {
    setTimeout(fn) {
      const id = next++;
      timers.set(id, fn);
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    fireAll() {
      for (const [id, fn] of [...timers]) {
        timers.delete(id);
        fn();
      }
    },
    get size() {
      return timers.size;
    },
  };
}

test('requests get increasing ids and resolve on their own reply', async () => {
  const sent = [];
  const timers = fakeTimers();
  const rpc = new RpcClient((m) => sent.push(m), { timers });
  const first = rpc.request('hello', { client: 'x' });
  const second = rpc.request('list');
  assert.deepEqual(sent, [
    { client: 'x', id: 1, cmd: 'hello' },
    { id: 2, cmd: 'list' },
  ]);
  assert.equal(rpc.handleMessage({ id: 2, ok: true, result: [1] }), null);
  assert.equal(rpc.handleMessage({ id: 1, ok: true, result: { version: '0.1' } }), null);
  assert.deepEqual(await second, [1]);
  assert.deepEqual(await first, { version: '0.1' });
  assert.equal(timers.size, 0);
});

test('error replies reject with the helper code; events pass through', async () => {
  const rpc = new RpcClient(() => {}, { timers: fakeTimers() });
  const p = rpc.request('add', { magnet: 'x' });
  const event = { event: 'progress', torrents: [] };
  assert.equal(rpc.handleMessage(event), event);
  rpc.handleMessage({ id: 1, ok: false, error: { code: 'bad_torrent', message: 'no info' } });
  await assert.rejects(p, (err) => err instanceof HelperError && err.code === 'bad_torrent' && err.message === 'no info');
  assert.equal(rpc.handleMessage({ id: 99, ok: true }), null);
  assert.equal(rpc.handleMessage('garbage'), null);
});

test('a reply with id null (daemon_unavailable) fails every request in flight with its reason', async () => {
  const rpc = new RpcClient(() => {}, { timers: fakeTimers() });
  const hello = rpc.request('hello');
  const list = rpc.request('list');
  const frame = { id: null, ok: false, error: { code: 'daemon_unavailable', message: 'cannot start the daemon: disk full' } };
  assert.equal(rpc.handleMessage(frame), null);
  for (const p of [hello, list]) {
    await assert.rejects(p, (err) => err instanceof HelperError && err.code === 'daemon_unavailable' && /disk full/.test(err.message));
  }
  assert.equal(rpc.fatal.code, 'daemon_unavailable');
  assert.equal(rpc.pending.size, 0);
});

test('timeouts and disconnects reject what is in flight', async () => {
  const timers = fakeTimers();
  const rpc = new RpcClient(() => {}, { timers });
  const a = rpc.request('hello');
  timers.fireAll();
  await assert.rejects(a, (err) => err.code === 'timeout');
  const b = rpc.request('list');
  rpc.failAll('gone');
  await assert.rejects(b, (err) => err.code === 'disconnected' && err.message === 'gone');
  const throwing = new RpcClient(() => {
    throw new Error('port closed');
  }, { timers });
  await assert.rejects(throwing.request('list'), (err) => err.code === 'disconnected');
});

test('base64 of bytes matches node, also for large inputs', () => {
  const bytes = new Uint8Array(200000).map((_, i) => (i * 7) & 0xff);
  assert.equal(bytesToBase64(bytes), Buffer.from(bytes).toString('base64'));
  assert.equal(bytesToBase64(new Uint8Array()), '');
});

test('looksLikeTorrent', () => {
  const enc = (s) => new TextEncoder().encode(s);
  assert.ok(looksLikeTorrent(enc('d8:announce3:url4:infod4:name1:xee')));
  assert.ok(!looksLikeTorrent(enc('<html>login</html>')));
  assert.ok(!looksLikeTorrent(enc('d3:fooi1ee')));
  assert.ok(!looksLikeTorrent(enc('')));
});

test('add requests', () => {
  assert.deepEqual(addRequestFor({ magnet: 'magnet:?xt=urn:btih:x' }), { cmd: 'add', args: { magnet: 'magnet:?xt=urn:btih:x' } });
  assert.deepEqual(addRequestFor({ bytes: new Uint8Array([100, 101]), sourceUrl: 'http://h/a.torrent' }), {
    cmd: 'add',
    args: { torrent_b64: 'ZGU=', source_url: 'http://h/a.torrent' },
  });
  assert.deepEqual(addRequestFor({ url: 'http://h/x' }), { cmd: 'add', args: { url: 'http://h/x' } });
  assert.throws(() => addRequestFor({}));
});

test('frames round-trip, split at every byte', () => {
  const messages = [{ id: 1, cmd: 'hello' }, { event: 'progress', torrents: [{ name: 'ünïcødé' }] }];
  const stream = Buffer.concat(messages.map((m) => Buffer.from(encodeFrame(m))));
  for (let cut = 0; cut <= stream.length; cut++) {
    const first = decodeFrames(stream.subarray(0, cut));
    const rest = Buffer.concat([Buffer.from(first.rest), stream.subarray(cut)]);
    const second = decodeFrames(rest);
    assert.deepEqual([...first.messages, ...second.messages], messages, `cut at ${cut}`);
    assert.equal(second.rest.length, 0);
  }
});

test('oversized or broken frames throw instead of desynchronising', () => {
  const huge = new Uint8Array(4);
  new DataView(huge.buffer).setUint32(0, 2 * 1024 * 1024, true);
  assert.throws(() => decodeFrames(huge), RangeError);
  const bad = new Uint8Array([3, 0, 0, 0, 0x7b, 0x7b, 0x7b]);
  assert.throws(() => decodeFrames(bad), SyntaxError);
});

test('browser detection and the install command', () => {
  assert.equal(detectBrowser({ isFirefox: true }), 'firefox');
  assert.equal(detectBrowser({ brands: [{ brand: 'Chromium' }, { brand: 'Not=A?Brand' }] }), 'chromium');
  assert.equal(detectBrowser({ brands: [{ brand: 'Chromium' }, { brand: 'Google Chrome' }] }), 'chrome');
  assert.equal(detectBrowser({ brands: [{ brand: 'Microsoft Edge' }] }), 'edge');
  assert.equal(detectBrowser({ hasBraveApi: true, brands: [{ brand: 'Chromium' }] }), 'brave');
  assert.equal(detectBrowser(), 'chromium');
  assert.equal(
    installCommand('chromium', 'lndipfiddjhiiddghlniicdhbfpnielh'),
    'bthelper install --browser chromium --extension-id lndipfiddjhiiddghlniicdhbfpnielh',
  );
});

test('host-not-found errors mean "missing", others "broken"', () => {
  assert.equal(classifyDisconnect('Specified native messaging host not found.'), 'missing');
  assert.equal(classifyDisconnect('No such native application org.swarmlink.bthelper'), 'missing');
  assert.equal(classifyDisconnect('Access to the specified native messaging host is forbidden.'), 'missing');
  assert.equal(classifyDisconnect('Native host has exited.'), 'broken');
  assert.equal(classifyDisconnect(undefined), 'broken');
});

test('extension settings default on and ignore junk', () => {
  assert.deepEqual(withDefaults(undefined), { ...DEFAULT_SETTINGS });
  assert.deepEqual(withDefaults({ interceptClicks: false, bogus: 1, notifications: 'no' }), {
    ...DEFAULT_SETTINGS,
    interceptClicks: false,
  });
});

test('the missing-helper steps fit the user\'s system', () => {
  assert.equal(osOf('Linux x86_64'), 'linux');
  assert.equal(osOf('Win32'), 'windows');
  assert.equal(osOf('MacIntel'), 'mac');
  assert.equal(osOf(undefined), 'other');
  const linux = installSteps('linux');
  assert.match(linux.package, /swarmlink_\*\.deb/);
  assert.match(linux.binary, /tarball/);
  assert.equal(installSteps('windows').package, null);
  assert.match(installSteps('windows').binary, /bthelper\.exe/);
  assert.match(installSteps('mac').binary, /cargo install --path helper/);
  assert.equal(
    installCommand('chrome', 'lndipfiddjhiiddghlniicdhbfpnielh', 'windows'),
    'bthelper.exe install --browser chrome --extension-id lndipfiddjhiiddghlniicdhbfpnielh',
  );
});

test('a helper older than the protocol this extension needs is named as such', () => {
  assert.equal(helperTooOld({ helper: 'bthelper', version: '0.1.0', protocol: PROTOCOL_VERSION }), null);
  assert.equal(helperTooOld({ protocol: PROTOCOL_VERSION + 1 }), null);
  assert.equal(
    helperTooOld({ version: '0.0.9', protocol: 0 }),
    `bthelper 0.0.9 speaks helper protocol 0; this extension needs protocol ${PROTOCOL_VERSION} or newer. Install the current helper.`,
  );
  assert.match(helperTooOld({ helper: 'bthelper' }), /^The installed bthelper speaks an older helper protocol;/);
  assert.match(helperTooOld(null), /needs protocol/);
});
