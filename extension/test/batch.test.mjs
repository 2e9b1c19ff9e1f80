import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FrameBatcher } from '../src/lib/batch.js';

test('updates pushed within one frame are flushed together, once, in order', () => {
  const frames = [];
  const flushed = [];
  const b = new FrameBatcher((fn) => frames.push(fn), (items) => flushed.push(items));
  b.push(1);
  b.push(2);
  b.push(3);
  assert.equal(frames.length, 1, 'one frame requested for three updates');
  assert.deepEqual(flushed, []);
  frames.shift()();
  assert.deepEqual(flushed, [[1, 2, 3]]);
  b.push(4);
  assert.equal(frames.length, 1);
  frames.shift()();
  assert.deepEqual(flushed, [[1, 2, 3], [4]]);
  assert.equal(b.flushes, 2);
});

test('an update pushed while flushing lands in the next frame', () => {
  const frames = [];
  const flushed = [];
  let b;
  b = new FrameBatcher((fn) => frames.push(fn), (items) => {
    flushed.push(items);
    if (items.includes('a')) b.push('b');
  });
  b.push('a');
  frames.shift()();
  assert.equal(frames.length, 1);
  frames.shift()();
  assert.deepEqual(flushed, [['a'], ['b']]);
});
