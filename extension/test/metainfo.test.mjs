import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeTorrent, decodeBencode, magnetName } from '../src/lib/metainfo.js';
import { PendingConfirmations } from '../src/lib/pending.js';

const enc = (s) => new TextEncoder().encode(s);

test('a single-file torrent: name, size, one file', () => {
  const t = enc('d8:announce3:x/a4:infod6:lengthi12345e4:name8:demo.bin12:piece lengthi16384e6:pieces20:xxxxxxxxxxxxxxxxxxxxee');
  assert.deepEqual(describeTorrent(t), { name: 'demo.bin', totalBytes: 12345, fileCount: 1 });
});

test('a multi-file torrent sums its files; name.utf-8 wins', () => {
  const t = enc('d4:infod5:filesld6:lengthi10e4:pathl1:aeed6:lengthi5e4:pathl1:beee4:name3:dir10:name.utf-84:dir2ee');
  assert.deepEqual(describeTorrent(t), { name: 'dir2', totalBytes: 15, fileCount: 2 });
});

test('a v2 file tree counts its leaves', () => {
  const t = enc('d4:infod9:file treed1:ad0:d6:lengthi3eee1:bd1:cd0:d6:lengthi4eeeee4:name1:nee');
  assert.deepEqual(describeTorrent(t), { name: 'n', totalBytes: 7, fileCount: 2 });
});

test('hostile bencode is an error, never a hang or a stack overflow', () => {
  for (const bad of ['', 'd', 'de x', 'i12', 'i01e', '5:ab', 'd3:abci1ee', 'di1ei2ee', 'li1e', `${'l'.repeat(100000)}`, 'd4:infod4:name1:xee', 'd4:infoi1ee']) {
    assert.throws(() => describeTorrent(enc(bad)), /not a valid/, JSON.stringify(bad.slice(0, 20)));
  }
  assert.throws(() => decodeBencode(enc('99999999999999999999:')), /not a valid/);
});

test('magnet display names', () => {
  assert.equal(magnetName('magnet:?xt=urn:btih:ab&dn=hello%20world'), 'hello world');
  assert.equal(magnetName('magnet:?xt=urn:btih:ab'), null);
});

test('pending confirmations are bounded, expire, dedupe a URL and are used once', () => {
  let now = 0;
  let n = 0;
  const p = new PendingConfirmations({ now: () => now, newId: () => `id${n++}`, max: 2, ttlMs: 1000 });
  assert.deepEqual(p.add({ url: 'a' }), { id: 'id0', fresh: true });
  assert.deepEqual(p.add({ url: 'a' }), { id: 'id0', fresh: false });
  assert.deepEqual(p.add({ url: 'b' }), { id: 'id1', fresh: true });
  assert.equal(p.add({ url: 'c' }), null, 'full');
  assert.equal(p.take('id0').url, 'a');
  assert.equal(p.take('id0'), null, 'used once');
  assert.equal(p.get({}), null);
  now = 1000;
  assert.equal(p.get('id1'), null, 'expired');
  assert.equal(p.size, 0);
  assert.deepEqual(p.add({ url: 'c' }), { id: 'id2', fresh: true });
});
