import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  initialState,
  reduce,
  normalizeStatus,
  torrentList,
  activeCount,
  totals,
  badgeText,
  notificationFor,
} from '../src/lib/store.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const status = (hash, extra = {}) => ({
  info_hash: hash,
  name: `file-${hash[0]}`,
  state: 'downloading',
  progress: 0.5,
  total_bytes: 100,
  have_bytes: 50,
  downloaded: 50,
  uploaded: 0,
  down_rate: 10,
  up_rate: 1,
  peers: 2,
  seeds: 1,
  eta_secs: 5,
  error: null,
  save_path: '/dl',
  ...extra,
});

test('statuses are normalised: hostile or missing fields never break the view', () => {
  assert.equal(normalizeStatus(null), null);
  assert.equal(normalizeStatus({ name: 'x' }), null);
  const t = normalizeStatus({ info_hash: A.toUpperCase(), state: 'exploding', progress: 3, down_rate: -4, eta_secs: 'x' });
  assert.equal(t.info_hash, A);
  assert.equal(t.name, A.toUpperCase());
  assert.equal(t.state, 'error');
  assert.equal(t.progress, 1);
  assert.equal(t.down_rate, 0);
  assert.equal(t.eta_secs, null);
  assert.equal(t.save_path, '');
  for (const state of ['queued', 'awaiting_selection']) assert.equal(normalizeStatus({ info_hash: A, state }).state, state, state);
  assert.equal(t.moving, null, 'no move: null, so the end of a move reaches the pages');
  assert.deepEqual(normalizeStatus({ info_hash: A, moving: { to: '/media/v', done_bytes: 9, total_bytes: 4 } }).moving, { to: '/media/v', done_bytes: 4, total_bytes: 4 });
  assert.equal(normalizeStatus({ info_hash: A, moving: { to: 7 } }).moving, null);
});

test('progress events upsert, newest torrent first', () => {
  let s = initialState();
  s = reduce(s, { type: 'event', message: { event: 'progress', torrents: [status(A)] } });
  s = reduce(s, { type: 'event', message: { event: 'added', torrent: status(B) } });
  assert.deepEqual(torrentList(s).map((t) => t.info_hash), [B, A]);
  s = reduce(s, { type: 'event', message: { event: 'progress', torrents: [status(A, { progress: 0.9 })] } });
  assert.deepEqual(torrentList(s).map((t) => t.info_hash), [B, A]);
  assert.equal(s.torrents[A].progress, 0.9);
});

test('a list replaces everything; removed drops one', () => {
  let s = reduce(initialState(), { type: 'list', torrents: [status(A), status(B)] });
  assert.equal(torrentList(s).length, 2);
  s = reduce(s, { type: 'event', message: { event: 'removed', info_hash: A } });
  assert.deepEqual(Object.keys(s.torrents), [B]);
  assert.deepEqual(s.order, [B]);
  s = reduce(s, { type: 'list', torrents: [status(A)] });
  assert.deepEqual(Object.keys(s.torrents), [A]);
  assert.equal(reduce(s, { type: 'event', message: { event: 'removed', info_hash: 'nope' } }), s);
});

test('error events mark the torrent', () => {
  let s = reduce(initialState(), { type: 'list', torrents: [status(A)] });
  s = reduce(s, { type: 'event', message: { event: 'error', info_hash: A, message: 'disk full' } });
  assert.equal(s.torrents[A].state, 'error');
  assert.equal(s.torrents[A].error, 'disk full');
});

test('unknown actions and events leave the state untouched', () => {
  const s = initialState();
  assert.equal(reduce(s, { type: 'nope' }), s);
  assert.equal(reduce(s, { type: 'event', message: { event: 'weird' } }), s);
  assert.equal(reduce(s, null), s);
});

test('badge, totals and active count', () => {
  let s = reduce(initialState(), {
    type: 'list',
    torrents: [status(A), status(B, { state: 'seeding', progress: 1, down_rate: 0, up_rate: 7 })],
  });
  assert.equal(activeCount(s), 1);
  assert.deepEqual(totals(s), { down: 10, up: 8 });
  assert.equal(badgeText(s), '1');
  s = reduce(s, { type: 'helper', status: 'missing', error: 'Specified native messaging host not found.' });
  assert.equal(badgeText(s), '!');
  assert.equal(s.helperError, 'Specified native messaging host not found.');
  assert.equal(badgeText(initialState()), '');
});

test('notifications come from completed and error events', () => {
  const s = reduce(initialState(), { type: 'list', torrents: [status(A)] });
  assert.deepEqual(notificationFor(s, { event: 'completed', info_hash: A.toUpperCase(), name: 'movie' }), {
    id: `swarmlink-completed-${A}`,
    title: 'Download complete',
    message: 'movie',
  });
  assert.deepEqual(notificationFor(s, { event: 'error', info_hash: A, message: 'disk full' }), {
    id: `swarmlink-failed-${A}`,
    title: 'Download failed',
    message: 'file-a: disk full',
  });
  assert.equal(
    notificationFor(s, { event: 'completed', info_hash: A, name: 'song\u202Eexe.mp3\nfake line' }).message,
    'song<U+202E>exe.mp3<U+000A>fake line',
    'names in notifications are neutralised',
  );
  assert.equal(notificationFor(s, { event: 'progress', torrents: [] }), null);
  assert.equal(notificationFor(s, { event: 'completed' }), null);
  assert.equal(notificationFor(s, null), null);
});

test('a full progress snapshot drops torrents it does not name, after its last part', () => {
  const C = 'c'.repeat(40);
  let s = reduce(initialState(), { type: 'list', torrents: [status(A), status(B), status(C)] });
  s = reduce(s, { type: 'event', message: { event: 'progress', full: true, part: 1, parts: 2, torrents: [status(A)] } });
  assert.equal(torrentList(s).length, 3, 'nothing dropped before the last part');
  s = reduce(s, { type: 'event', message: { event: 'progress', full: true, part: 2, parts: 2, torrents: [status(C)] } });
  assert.deepEqual(Object.keys(s.torrents).sort(), [A, C]);
  assert.deepEqual(s.order, [C, A]);
  s = reduce(s, { type: 'event', message: { event: 'progress', full: false, torrents: [status(B)] } });
  assert.equal(torrentList(s).length, 3, 'a partial round only merges');
  s = reduce(s, { type: 'event', message: { event: 'progress', full: true, torrents: [] } });
  assert.deepEqual(torrentList(s), []);
});

test('completed without a status marks a known torrent finished', () => {
  let s = reduce(initialState(), { type: 'list', torrents: [status(A)] });
  s = reduce(s, { type: 'event', message: { event: 'completed', info_hash: A, name: 'x', save_path: '/x' } });
  assert.equal(s.torrents[A].state, 'seeding');
  assert.equal(s.torrents[A].progress, 1);
  assert.equal(s.torrents[A].have_bytes, 100);
  assert.equal(reduce(s, { type: 'event', message: { event: 'completed', info_hash: B } }), s);
});
