import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileTree, treeRows, normalizePeers, normalizeTrackers, normalizeWebSeeds, pieceMap } from '../src/lib/detail.js';

const FILES = [
  { index: 0, path: 'Show/S01/e01.mkv', length: 1000, priority: 'normal', have_bytes: 500 },
  { index: 2, path: 'Show/S01/e02.mkv', length: 1000, priority: 'skip', have_bytes: 0 },
  { index: 3, path: 'Show/readme.txt', length: 10, priority: 'high', have_bytes: 10 },
];

test('the file list becomes a tree with folder totals and priorities', () => {
  const tree = fileTree(FILES);
  assert.equal(tree.files, 3);
  assert.equal(tree.length, 2010);
  const show = tree.children[0];
  assert.equal(show.name, 'Show');
  assert.equal(show.have_bytes, 510);
  assert.equal(show.priority, 'mixed');
  assert.deepEqual(show.indices, [0, 2, 3]);
  const s01 = show.children[0];
  assert.equal(s01.name, 'S01', 'folders before files');
  assert.deepEqual(s01.indices, [0, 2]);
  assert.equal(show.children[1].file.priority, 'high');
  const rows = treeRows(tree).map((r) => `${'  '.repeat(r.depth)}${r.node.name}`);
  assert.deepEqual(rows, ['Show', '  S01', '    e01.mkv', '    e02.mkv', '  readme.txt']);
  assert.deepEqual(treeRows(tree, new Set(['Show/S01'])).map((r) => r.node.name), ['Show', 'S01', 'readme.txt'], 'a collapsed folder hides its files');
});

test('hostile file lists: wrong types are dropped, have is capped at the length', () => {
  const tree = fileTree([{ index: -1, path: 'x' }, { index: 'a' }, null, { index: 1, path: 'a', length: 5, have_bytes: 99, priority: 'urgent' }]);
  assert.equal(tree.files, 1);
  const f = tree.children[0].file;
  assert.equal(f.have_bytes, 5);
  assert.equal(f.priority, 'normal');
  assert.equal(fileTree(undefined).files, 0);
  assert.equal(fileTree([{ index: 0, path: '', length: 1 }]).children[0].name, '#0');
});

test('peers, trackers and web seeds are checked and capped', () => {
  const peers = normalizePeers({ peers: [{ addr: '127.0.0.1:6881', client: 'libtorrent', flags: ['incoming', 7], down_rate: 10, up_rate: -1, progress: 2 }, { addr: 5 }] });
  assert.deepEqual(peers, [{ addr: '127.0.0.1:6881', client: 'libtorrent', flags: ['incoming'], down_rate: 10, up_rate: 0, progress: 1 }]);
  assert.equal(normalizePeers({ peers: Array.from({ length: 5000 }, () => ({ addr: 'a' })) }).length, 1000);
  assert.deepEqual(normalizePeers(null), []);
  const trackers = normalizeTrackers({ trackers: [{ url: 'http://t/announce', status: 'working', last_announce: 100, next_announce: null, seeds: 3, peers: null }, { url: 'udp://x', status: 'weird' }] });
  assert.equal(trackers[0].status, 'working');
  assert.equal(trackers[0].next_announce, null);
  assert.equal(trackers[0].peers, null);
  assert.equal(trackers[1].status, 'not_contacted');
  const seeds = normalizeWebSeeds({ web_seeds: [{ url: 'https://m/', state: 'fetching', down_rate: 5, downloaded: 9, error: null }, { nope: 1 }] });
  assert.equal(seeds.length, 1);
  assert.deepEqual(normalizeWebSeeds({}), []);
});

test('the piece map folds the bitfield into cells', () => {
  // 10 pieces, pieces 0-4 verified: bits 11111000 00000000.
  const map = pieceMap({ piece_count: 10, have_b64: Buffer.from([0xf8, 0x00]).toString('base64') }, 5);
  assert.equal(map.have, 5);
  assert.deepEqual(map.cells, [1, 1, 0.5, 0, 0]);
  const many = pieceMap({ piece_count: 16, have_b64: Buffer.from([0xff, 0x00]).toString('base64') }, 2);
  assert.deepEqual(many.cells, [1, 0]);
  assert.equal(pieceMap({ piece_count: 10, have_b64: Buffer.from([0xff]).toString('base64') }), null, 'a bitfield of the wrong length');
  assert.equal(pieceMap({ piece_count: 10, have_b64: '!!' }), null);
  assert.equal(pieceMap({ piece_count: -1, have_b64: '' }), null);
  assert.equal(pieceMap(null), null);
  assert.equal(pieceMap({ piece_count: 3, have_b64: Buffer.from([0xe0]).toString('base64') }, 256).cells.length, 3, 'no more cells than pieces');
});
