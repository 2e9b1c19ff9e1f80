import { test } from 'node:test';
import assert from 'node:assert/strict';
import { initialState, reduce } from '../src/lib/store.js';
import { diffState, fullPatch, applyPatch, applyPatches } from '../src/lib/sync.js';

const status = (i, extra = {}) => ({
  info_hash: i.toString(16).padStart(40, '0'),
  name: `t${i}`,
  state: 'downloading',
  progress: 0.1,
  total_bytes: 1000,
  have_bytes: 100,
  ...extra,
});

function helperState(n) {
  let s = reduce(initialState(), { type: 'helper', status: 'ready', info: { version: '1' } });
  return reduce(s, { type: 'list', torrents: Array.from({ length: n }, (_, i) => status(i)) });
}

test('a page that applies the patches has the background\'s state, whatever happened', () => {
  let bg = initialState();
  let page = applyPatch({}, fullPatch(bg));
  const steps = [
    { type: 'helper', status: 'ready', info: { version: '1' } },
    { type: 'list', torrents: [status(1), status(2), status(3)] },
    { type: 'event', message: { event: 'progress', torrents: [status(2, { progress: 0.5 })] } },
    { type: 'event', message: { event: 'added', torrent: status(4) } },
    { type: 'event', message: { event: 'removed', info_hash: status(1).info_hash } },
    { type: 'event', message: { event: 'progress', full: true, torrents: [status(3), status(4)] } },
    // A field that goes away (web seeds) replaces the whole status; one that comes is merged.
    { type: 'event', message: { event: 'progress', torrents: [status(3, { web_seeds: [{ url: 'http://m/' }] })] } },
    { type: 'event', message: { event: 'progress', torrents: [status(3, { progress: 0.7 })] } },
    { type: 'helper', status: 'missing', error: 'gone' },
  ];
  for (const action of steps) {
    const before = bg;
    bg = reduce(bg, action);
    const patch = diffState(before, bg);
    if (patch) page = applyPatch(page, patch);
    assert.deepEqual(page.order, bg.order, JSON.stringify(action));
    assert.deepEqual(page.torrents, bg.torrents);
    assert.equal(page.helper, bg.helper);
    assert.equal(page.helperError, bg.helperError);
  }
});

test('a progress round over 2,000 torrents that moved 3 sends those 3, not the list', () => {
  const before = helperState(2000);
  const after = reduce(before, { type: 'event', message: { event: 'progress', torrents: [status(5, { progress: 0.2 }), status(6, { progress: 0.3 }), status(7, { progress: 0.4 })] } });
  const patch = diffState(before, after);
  assert.deepEqual(patch.changed.map((t) => t.info_hash).sort(), [5, 6, 7].map((i) => status(i).info_hash));
  assert.deepEqual(Object.keys(patch.changed[0]).sort(), ['info_hash', 'progress'], 'only the changed field travels');
  assert.equal(patch.set, undefined);
  assert.equal(patch.order, undefined, 'the order did not change');
  assert.equal(patch.removed, undefined);
  assert.ok(JSON.stringify(patch).length < 2000, `${JSON.stringify(patch).length} bytes`);
  assert.ok(JSON.stringify(fullPatch(after)).length > 200000);
  assert.equal(diffState(after, after), null, 'no change, no message');
  // Unchanged torrents keep their identity in the page's copy.
  const page = applyPatch(applyPatch({}, fullPatch(before)), patch);
  assert.equal(page.torrents[status(8).info_hash], before.torrents[status(8).info_hash]);
});

test('a reducer round over 2,000 torrents all changing stays linear', () => {
  const before = helperState(2000);
  const round = Array.from({ length: 2000 }, (_, i) => status(i, { progress: 0.9 }));
  const started = performance.now();
  let s = before;
  for (let k = 0; k < 5; k++) s = reduce(s, { type: 'event', message: { event: 'progress', torrents: round } });
  const each = (performance.now() - started) / 5;
  assert.equal(s.order.length, 2000);
  assert.ok(each < 50, `one round took ${each.toFixed(1)} ms`);
});

test('hostile or empty patches change nothing', () => {
  const s = helperState(3);
  assert.equal(applyPatch(s, null), s);
  assert.deepEqual(applyPatch(s, { changed: [null, 5, { name: 'no hash' }] }).order, s.order);
  assert.deepEqual(applyPatches(s, []), s);
  const full = applyPatch(s, { full: true, order: ['x'], changed: [] });
  assert.deepEqual(full.order, [], 'an order naming unknown torrents is cut to the known ones');
});

test('a status sent again unchanged sends nothing', () => {
  const before = helperState(3);
  const after = reduce(before, { type: 'event', message: { event: 'progress', torrents: [status(1)] } });
  assert.notEqual(after.torrents[status(1).info_hash], before.torrents[status(1).info_hash], 'the reducer made a new object');
  assert.equal(diffState(before, after), null);
});
