import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pieceSpans, drawPieces, coverage } from '../src/lib/seekbar.js';

const b64 = (...bytes) => Buffer.from(bytes).toString('base64');

test('verified pieces become merged runs along the file, the file starting inside its first piece', () => {
  // A 1000-byte file from byte 50 of its first 100-byte piece: 11 pieces, the first holding 50
  // of its bytes. Pieces 0, 1, 2, 5 and 10 verified.
  const map = { length: 1000, piece_length: 100, first_offset: 50, pieces: 11, have_b64: b64(0b11100100, 0b00100000) };
  assert.deepEqual(pieceSpans(map), [
    [0, 0.25],
    [0.45, 0.55],
    [0.95, 1],
  ]);
  assert.ok(Math.abs(coverage(pieceSpans(map)) - 0.4) < 1e-9);
  const all = { length: 300, piece_length: 100, pieces: 3, have_b64: b64(0xe0) };
  assert.deepEqual(pieceSpans(all), [[0, 1]]);
  assert.equal(coverage(pieceSpans(all)), 1);
  assert.deepEqual(pieceSpans({ ...all, have_b64: '' }), []);
});

test('what is not a piece map draws nothing', () => {
  assert.equal(pieceSpans(null), null);
  assert.equal(pieceSpans({ length: 0, piece_length: 1, pieces: 0 }), null);
  assert.equal(pieceSpans({ length: 10, piece_length: 0, pieces: 1 }), null);
  assert.deepEqual(pieceSpans({ length: 10, piece_length: 10, pieces: 1, have_b64: '!!not base64' }), []);
});

test('the runs are drawn to scale on the track, a lone piece at least a pixel wide', () => {
  const calls = [];
  const ctx = {
    set fillStyle(v) {
      calls.push(['style', v]);
    },
    clearRect: (...a) => calls.push(['clear', ...a]),
    fillRect: (...a) => calls.push(['fill', ...a]),
  };
  drawPieces(ctx, 200, 6, [[0, 0.25], [0.5, 0.501], [0.9, 1]], { track: 'grey', have: 'blue' });
  assert.deepEqual(calls, [
    ['clear', 0, 0, 200, 6],
    ['style', 'grey'],
    ['fill', 0, 0, 200, 6],
    ['style', 'blue'],
    ['fill', 0, 0, 50, 6],
    ['fill', 100, 0, 1, 6],
    ['fill', 180, 0, 20, 6],
  ]);
});
