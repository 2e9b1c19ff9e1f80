import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  senderKind,
  mayMessage,
  mayConnect,
  allowedCommand,
  decideEntry,
  sourceSite,
  PERMISSIONS,
} from '../src/lib/consent.js';

const BASE = 'chrome-extension://lndipfiddjhiiddghlniicdhbfpnielh/';
const ID = 'lndipfiddjhiiddghlniicdhbfpnielh';
const page = (file) => ({ id: ID, url: `${BASE}${file}` });

test('only a trusted top-frame click, the context menu and the popup add at once', () => {
  assert.equal(decideEntry({ via: 'click', trusted: true, topFrame: true }), 'add');
  assert.equal(decideEntry({ via: 'context-menu' }), 'add');
  assert.equal(decideEntry({ via: 'popup' }), 'add');
  // Scripted clicks, clicks in (possibly invisible) frames, and every browser-side path ask.
  assert.equal(decideEntry({ via: 'click', trusted: false, topFrame: true }), 'confirm');
  assert.equal(decideEntry({ via: 'click', trusted: true, topFrame: false }), 'confirm');
  assert.equal(decideEntry({ via: 'click', trusted: 'yes', topFrame: true }), 'confirm', 'only the boolean true counts');
  assert.equal(decideEntry({ via: 'click' }), 'confirm');
  for (const via of ['download', 'navigation', 'redirect', 'iframe', 'window-open', undefined, '']) {
    assert.equal(decideEntry({ via, trusted: true, topFrame: true }), 'confirm', String(via));
  }
  assert.equal(decideEntry(), 'confirm');
});

test('extension pages are told by sender.url, not by sender.id', () => {
  assert.equal(senderKind(page('pages/popup.html'), BASE, ID), 'popup');
  assert.equal(senderKind(page('pages/options.html?x=1#y'), BASE, ID), 'options');
  assert.equal(senderKind(page('pages/confirm.html#abc'), BASE, ID), 'confirm');
  assert.equal(senderKind(page('pages/intercept.html#http://a/b.torrent'), BASE, ID), 'intercept');
  assert.equal(senderKind(page('pages/other.html'), BASE, ID), null);
  // A content script shares the extension's id; its URL is the web page's.
  const content = { id: ID, url: 'https://evil.example/pages/popup.html', tab: { id: 3 }, frameId: 0 };
  assert.equal(senderKind(content, BASE, ID), 'content');
  assert.equal(senderKind({ ...content, url: `https://evil.example/#${BASE}pages/popup.html` }, BASE, ID), 'content');
  // No tab (not a content script), another extension, or no URL: nobody.
  assert.equal(senderKind({ id: ID, url: 'https://evil.example/' }, BASE, ID), null);
  assert.equal(senderKind({ ...page('pages/popup.html'), id: 'someoneelse' }, BASE, ID), null);
  assert.equal(senderKind({ id: ID }, BASE, ID), null);
  assert.equal(senderKind(null, BASE, ID), null);
  assert.equal(senderKind({ id: ID, url: 'chrome-extension://otherid/pages/popup.html' }, BASE, ID), null);
});

test('each sender may send only the messages its page uses', () => {
  assert.ok(mayMessage('content', 'intercept'));
  assert.ok(mayMessage('content', 'let-through'));
  for (const type of ['command', 'confirm', 'pending', 'navigation', 'add-link', 'connect']) {
    assert.ok(!mayMessage('content', type), `content may not ${type}`);
  }
  assert.ok(mayMessage('confirm', 'confirm'));
  assert.ok(!mayMessage('confirm', 'command'));
  assert.ok(mayMessage('intercept', 'navigation'));
  assert.ok(!mayMessage('intercept', 'confirm'), 'the web-accessible page cannot confirm');
  assert.ok(!mayMessage('options', 'add-link'));
  assert.ok(!mayMessage(null, 'intercept'));
  assert.ok(mayConnect('popup', 'popup') && mayConnect('options', 'popup') && mayConnect('confirm', 'confirm'));
  assert.ok(!mayConnect('confirm', 'popup'), 'the confirm page gets no state or commands port');
  assert.ok(!mayConnect('popup', 'confirm'));
  for (const name of ['popup', 'confirm', '', undefined]) {
    assert.ok(!mayConnect('content', name) && !mayConnect('intercept', name) && !mayConnect(null, name), String(name));
  }
});

test('helper commands: the popup manages torrents, the options page settings, nobody else anything', () => {
  assert.deepEqual(allowedCommand('popup', 'pause', { info_hash: 'ab' }), { info_hash: 'ab' });
  // Cancelling a move is the popup's and the downloads page's (a move's Cancel button).
  assert.deepEqual(allowedCommand('popup', 'cancel_move', { info_hash: 'ab' }), { info_hash: 'ab' });
  assert.deepEqual(allowedCommand('downloads', 'cancel_move', { info_hash: 'ab' }), { info_hash: 'ab' });
  assert.equal(allowedCommand('popup', 'set_settings', { settings: { download_dir: '/home/u' } }), null);
  assert.equal(allowedCommand('popup', 'shutdown', {}), null);
  // The reachability indicator asks hello; hello changes nothing.
  assert.deepEqual(allowedCommand('popup', 'hello', { client: 'popup' }), { client: 'popup' });
  assert.deepEqual(allowedCommand('options', 'set_settings', { settings: { x: 1 } }), { settings: { x: 1 } });
  assert.equal(allowedCommand('options', 'add', { magnet: 'magnet:?' }), null);
  for (const kind of ['content', 'confirm', 'intercept', null]) {
    for (const cmd of ['add', 'set_settings', 'remove', 'list', 'shutdown']) {
      assert.equal(allowedCommand(kind, cmd, {}), null, `${kind} ${cmd}`);
    }
  }
  assert.equal(allowedCommand('popup', 'constructor', {}), null);
  assert.equal(allowedCommand('popup', { toString: () => 'list' }, {}), null);
});

test("the popup's add carries the torrent only: no save_dir, url or peers", () => {
  assert.deepEqual(
    allowedCommand('popup', 'add', { torrent_b64: 'ZA==', save_dir: '/home/u', peers: ['1.2.3.4:1'], url: 'http://x/' }),
    { torrent_b64: 'ZA==' },
  );
  assert.deepEqual(allowedCommand('popup', 'add', { magnet: 'magnet:?xt=urn:btih:x', save_dir: '/' }), { magnet: 'magnet:?xt=urn:btih:x' });
  assert.equal(allowedCommand('popup', 'add', { url: 'http://x/a.torrent' }), null);
  assert.equal(allowedCommand('popup', 'add', null), null);
});

test('every permission list names real message types', () => {
  for (const [kind, p] of Object.entries(PERMISSIONS)) {
    assert.ok(Array.isArray(p.messages) && p.messages.length, kind);
    if (p.commands.length) assert.ok(p.messages.includes('command'), kind);
  }
});

test('the source site is the referring page, else the link, never a non-web scheme', () => {
  assert.equal(sourceSite('http://127.0.0.1:1/t', 'https://evil.example/page?q'), 'https://evil.example');
  assert.equal(sourceSite('http://127.0.0.1:1/t', null), 'http://127.0.0.1:1');
  assert.equal(sourceSite('magnet:?xt=urn:btih:x', 'https://a.example/'), 'https://a.example');
  assert.equal(sourceSite('magnet:?xt=urn:btih:x', ''), null);
  assert.equal(sourceSite('http://h/t', 'javascript:alert(1)'), 'http://h');
});

test('the player page asks for stream URLs and file lists and nothing else', () => {
  assert.equal(senderKind(page('pages/player.html'), BASE, ID), 'player');
  assert.ok(mayConnect('player', 'popup') && mayMessage('player', 'command'));
  assert.deepEqual(allowedCommand('player', 'stream_url', { info_hash: 'a', file: 0 }), { info_hash: 'a', file: 0 });
  assert.deepEqual(allowedCommand('player', 'files', { info_hash: 'a' }), { info_hash: 'a' });
  for (const cmd of ['add', 'remove', 'pause', 'list', 'set_settings', 'shutdown', 'open']) assert.equal(allowedCommand('player', cmd, {}), null, cmd);
  assert.ok(!mayMessage('player', 'add-link'));
});

test('the downloads page relays its own commands and adds nothing', () => {
  assert.equal(senderKind(page('pages/downloads.html'), BASE, ID), 'downloads');
  assert.ok(mayConnect('downloads', 'popup'));
  assert.ok(mayMessage('downloads', 'command'));
  assert.ok(!mayMessage('downloads', 'add-link'), 'no adding from the downloads page');
  assert.ok(!mayMessage('downloads', 'open-downloads'));
  for (const cmd of ['pause', 'resume', 'remove', 'files', 'priority', 'select', 'queue', 'move', 'peers', 'trackers', 'pieces', 'get_settings']) {
    assert.ok(allowedCommand('downloads', cmd, { info_hash: 'a' }), cmd);
  }
  for (const cmd of ['add', 'set_settings', 'shutdown', 'set_limits']) assert.equal(allowedCommand('downloads', cmd, {}), null, cmd);
  assert.ok(mayMessage('popup', 'open-downloads'), 'the popup opens the page');
});
