import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Selection } from '../src/lib/selection.js';

const rows = ['a', 'b', 'c', 'd', 'e'].map((h) => ({ info_hash: h }));

test('click, ctrl-click and shift-click select as file managers do', () => {
  const s = new Selection();
  s.pick(rows, 'b');
  assert.deepEqual(s.inOrder(rows), ['b']);
  s.pick(rows, 'd', { toggle: true });
  assert.deepEqual(s.inOrder(rows), ['b', 'd']);
  s.pick(rows, 'b', { toggle: true });
  assert.deepEqual(s.inOrder(rows), ['d']);
  s.pick(rows, 'd', { toggle: true });
  s.pick(rows, 'a', { extend: true });
  assert.deepEqual(s.inOrder(rows), ['a', 'b', 'c', 'd'], 'shift selects from the anchor (the last clicked, d) alone');
  s.pick(rows, 'e', { extend: true, toggle: true });
  assert.deepEqual(s.inOrder(rows), ['a', 'b', 'c', 'd', 'e'], 'ctrl+shift adds the range');
  s.pick(rows, 'e');
  assert.deepEqual(s.inOrder(rows), ['e']);
  s.pick(rows, 'nope');
  assert.deepEqual(s.inOrder(rows), ['e'], 'an unknown row changes nothing');
});

test('arrow keys move the cursor, shift+arrows extend, selection survives re-sorting', () => {
  const s = new Selection();
  assert.equal(s.move(rows, 1), 0, 'the first arrow down lands on the first row');
  assert.equal(s.move(rows, 1), 1);
  assert.equal(s.move(rows, 1, { extend: true }), 2);
  assert.deepEqual(s.inOrder(rows), ['b', 'c']);
  assert.equal(s.move(rows, 100), 4, 'clamped to the last row');
  assert.equal(s.move(rows, -100), 0);
  s.selectAll(rows);
  assert.equal(s.size, 5);
  const reversed = [...rows].reverse();
  assert.deepEqual(s.inOrder(reversed), ['e', 'd', 'c', 'b', 'a']);
  s.retain(new Set(['a', 'c']));
  assert.deepEqual(s.inOrder(rows), ['a', 'c'], 'removed torrents leave the selection');
  s.clear();
  assert.equal(s.size, 0);
  assert.equal(new Selection().move([], 1), -1);
});
