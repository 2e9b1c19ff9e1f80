import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fixedWindow, measuredWindow, scrollToRow } from '../src/lib/virtual.js';

test('fixed rows: only the viewport and the overscan are rendered; spacers add up', () => {
  const w = fixedWindow({ count: 2000, rowHeight: 34, scrollTop: 34 * 1000, viewportHeight: 340, overscan: 5 });
  assert.equal(w.start, 995);
  assert.equal(w.end, 1000 + 11 + 5);
  assert.equal(w.before, 995 * 34);
  assert.equal(w.before + (w.end - w.start) * 34 + w.after, 2000 * 34);
  const top = fixedWindow({ count: 2000, rowHeight: 34, scrollTop: 0, viewportHeight: 340, overscan: 5 });
  assert.deepEqual([top.start, top.end, top.before], [0, 16, 0]);
  const bottom = fixedWindow({ count: 2000, rowHeight: 34, scrollTop: 1e9, viewportHeight: 340, overscan: 5 });
  assert.equal(bottom.end, 2000);
  assert.equal(bottom.after, 0);
  assert.deepEqual(fixedWindow({ count: 0, rowHeight: 34, scrollTop: 0, viewportHeight: 340 }), { start: 0, end: 0, before: 0, after: 0 });
  const few = fixedWindow({ count: 3, rowHeight: 34, scrollTop: 0, viewportHeight: 340 });
  assert.deepEqual([few.start, few.end, few.after], [0, 3, 0]);
  const nonsense = fixedWindow({ count: 10, rowHeight: 0, scrollTop: -5, viewportHeight: NaN });
  assert.ok(nonsense.start >= 0 && nonsense.end <= 10);
});

test('measured rows: taller rows take more room; the window covers the viewport', () => {
  const heights = Array.from({ length: 100 }, (_, i) => (i === 3 ? 300 : 100));
  const w = measuredWindow({ count: 100, heightOf: (i) => heights[i], scrollTop: 0, viewportHeight: 500, overscan: 0 });
  assert.deepEqual([w.start, w.end], [0, 4], 'rows 0-3 fill 600 px of a 500 px viewport');
  const scrolled = measuredWindow({ count: 100, heightOf: (i) => heights[i], scrollTop: 650, viewportHeight: 200, overscan: 1 });
  // Row 4 spans 600-700, row 5 700-800, row 6 800-900.
  assert.deepEqual([scrolled.start, scrolled.end], [3, 8]);
  assert.equal(scrolled.before, 300);
  assert.equal(scrolled.before + heights.slice(scrolled.start, scrolled.end).reduce((a, b) => a + b, 0) + scrolled.after, 10200);
  const past = measuredWindow({ count: 100, heightOf: (i) => heights[i], scrollTop: 1e6, viewportHeight: 500, overscan: 2 });
  assert.ok(past.start <= 99 && past.end === 100, 'scrolled past the end still shows the last rows');
  assert.deepEqual(measuredWindow({ count: 0, heightOf: () => 1, scrollTop: 0, viewportHeight: 10 }), { start: 0, end: 0, before: 0, after: 0 });
});

test('scrolling a row into view', () => {
  assert.equal(scrollToRow({ index: 5, rowHeight: 10, scrollTop: 0, viewportHeight: 100 }), null);
  assert.equal(scrollToRow({ index: 20, rowHeight: 10, scrollTop: 0, viewportHeight: 100 }), 110);
  assert.equal(scrollToRow({ index: 2, rowHeight: 10, scrollTop: 50, viewportHeight: 100 }), 20);
});
