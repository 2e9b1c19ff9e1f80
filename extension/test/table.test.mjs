import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sortTorrents, filterTorrents, filterCounts, tableRows, ratioOf, etaOf, searchWords } from '../src/lib/table.js';

const t = (hash, extra = {}) => ({
  info_hash: hash.repeat(40).slice(0, 40),
  name: `file ${hash}`,
  state: 'downloading',
  progress: 0.5,
  total_bytes: 100,
  have_bytes: 50,
  uploaded: 0,
  down_rate: 0,
  up_rate: 0,
  eta_secs: null,
  ...extra,
});

test('sorting by each column, both ways, keeps ties in list order', () => {
  const list = [t('a', { name: 'Beta', total_bytes: 5 }), t('b', { name: 'alpha', total_bytes: 9 }), t('c', { name: 'Gamma', total_bytes: 5 })];
  const names = (rows) => rows.map((r) => r.name);
  assert.deepEqual(names(sortTorrents(list, { key: 'name', dir: 'asc' })), ['alpha', 'Beta', 'Gamma'], 'case-insensitive');
  assert.deepEqual(names(sortTorrents(list, { key: 'name', dir: 'desc' })), ['Gamma', 'Beta', 'alpha']);
  // Equal sizes (Beta, Gamma) keep their order in the list, whichever the direction.
  assert.deepEqual(names(sortTorrents(list, { key: 'size', dir: 'asc' })), ['Beta', 'Gamma', 'alpha']);
  assert.deepEqual(names(sortTorrents(list, { key: 'size', dir: 'desc' })), ['alpha', 'Beta', 'Gamma']);
  // "added" without added_at is the list's own order (newest first).
  assert.deepEqual(names(sortTorrents(list, { key: 'added', dir: 'desc' })), ['Beta', 'alpha', 'Gamma']);
  assert.deepEqual(names(sortTorrents(list, { key: 'added', dir: 'asc' })), ['Gamma', 'alpha', 'Beta']);
  assert.notEqual(sortTorrents(list, {}), list, 'a new array');
});

test('unknown values (no ETA, no ratio) sort last in either direction', () => {
  const list = [t('a', { eta_secs: null }), t('b', { eta_secs: 30 }), t('c', { eta_secs: 10 }), t('d', { state: 'seeding', eta_secs: 5 })];
  const hashes = (rows) => rows.map((r) => r.info_hash[0]);
  assert.deepEqual(hashes(sortTorrents(list, { key: 'eta', dir: 'asc' })), ['c', 'b', 'a', 'd']);
  assert.deepEqual(hashes(sortTorrents(list, { key: 'eta', dir: 'desc' })), ['b', 'c', 'a', 'd']);
  assert.equal(etaOf(list[3]), null, 'a seeding torrent has no ETA');
  assert.equal(ratioOf(t('x', { total_bytes: 0, have_bytes: 0 })), null);
  assert.equal(ratioOf(t('x', { total_bytes: 200, uploaded: 300 })), 1.5);
  const byRatio = sortTorrents([t('a', { total_bytes: 0, have_bytes: 0 }), t('b', { uploaded: 50 }), t('c', { uploaded: 200 })], { key: 'ratio', dir: 'desc' });
  assert.deepEqual(hashes(byRatio), ['c', 'b', 'a']);
  const byState = sortTorrents([t('a', { state: 'seeding' }), t('b', { state: 'error' }), t('c', { state: 'paused' })], { key: 'state', dir: 'asc' });
  assert.deepEqual(hashes(byState), ['b', 'a', 'c'], 'errors first');
});

test('the state filter and the search box', () => {
  const list = [
    t('a', { name: 'Debian netinst.iso', state: 'seeding' }),
    t('b', { name: 'Big Buck Bunny.mp4', state: 'downloading' }),
    t('c', { name: 'debian-live.iso', state: 'paused' }),
    t('d', { name: 'x', state: 'queued' }),
    t('e', { name: 'y', state: 'error' }),
  ];
  const names = (rows) => rows.map((r) => r.name);
  assert.deepEqual(names(filterTorrents(list, { query: 'DEBIAN' })), ['Debian netinst.iso', 'debian-live.iso']);
  assert.deepEqual(names(filterTorrents(list, { query: 'debian iso live' })), ['debian-live.iso'], 'every word must match');
  assert.deepEqual(names(filterTorrents(list, { query: 'bbbbbb' })), ['Big Buck Bunny.mp4'], 'the info-hash matches too');
  assert.deepEqual(names(filterTorrents(list, { state: 'seeding' })), ['Debian netinst.iso']);
  assert.deepEqual(names(filterTorrents(list, { state: 'active' })), ['Big Buck Bunny.mp4']);
  assert.deepEqual(names(filterTorrents(list, { state: 'nonsense' })), names(list), 'an unknown filter keeps all');
  assert.deepEqual(names(filterTorrents(list, { state: 'paused', query: 'debian' })), ['debian-live.iso']);
  assert.deepEqual(filterCounts(list), { all: 5, active: 1, downloading: 1, seeding: 1, paused: 1, queued: 1, error: 1 });
  assert.deepEqual(names(tableRows(list, { state: 'all', query: 'iso', key: 'name', dir: 'asc' })), ['Debian netinst.iso', 'debian-live.iso']);
  assert.equal(searchWords('a '.repeat(100)).length, 16, 'the search is bounded');
});

test('2,000 rows sort and filter in well under a frame', () => {
  const list = Array.from({ length: 2000 }, (_, i) => t(String(i % 10), { info_hash: String(i).padStart(40, '0'), name: `torrent ${i}`, progress: (i * 7919) % 1000 / 1000 }));
  const started = performance.now();
  for (let i = 0; i < 10; i++) tableRows(list, { state: 'all', query: '1', key: 'progress', dir: 'desc' });
  const each = (performance.now() - started) / 10;
  assert.ok(each < 16, `tableRows took ${each.toFixed(1)} ms`);
});
