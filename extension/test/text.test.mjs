import { test } from 'node:test';
import assert from 'node:assert/strict';
import { displayText, hasUnsafeText } from '../src/lib/text.js';

test('bidi overrides, isolates and marks are shown escaped, never raw', () => {
  assert.equal(displayText('invoice\u202Efdp.exe'), 'invoice<U+202E>fdp.exe');
  for (const c of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0x200e, 0x200f, 0x061c]) {
    const out = displayText(`a${String.fromCharCode(c)}b`);
    assert.ok(!out.includes(String.fromCharCode(c)), c.toString(16));
    assert.equal(out, `a<U+${c.toString(16).toUpperCase().padStart(4, '0')}>b`);
  }
});

test('C0, DEL and C1 controls and line separators are escaped', () => {
  assert.equal(displayText('a\u0000b\nc\td\u001be[0m'), 'a<U+0000>b<U+000A>c<U+0009>d<U+001B>e[0m');
  assert.equal(displayText('x\u007fy\u0085z\u009b'), 'x<U+007F>y<U+0085>z<U+009B>');
  assert.equal(displayText('p\u2028q\u2029'), 'p<U+2028>q<U+2029>');
  for (let c = 0; c < 0x20; c++) assert.ok(hasUnsafeText(String.fromCharCode(c)), String(c));
  for (let c = 0x7f; c <= 0x9f; c++) assert.ok(hasUnsafeText(String.fromCharCode(c)), String(c));
});

test('ordinary text, including right-to-left scripts and emoji, is unchanged', () => {
  for (const s of ['debian-13.iso', 'Big Buck Bunny (1080p).mp4', 'שלום.txt', 'مرحبا', '日本語', '🎬 film', 'a\u00a0b', 'é']) {
    assert.equal(displayText(s), s);
    assert.ok(!hasUnsafeText(s));
  }
});

test('long names are cut and non-strings shown as text', () => {
  assert.equal(displayText('x'.repeat(600)).length, 501);
  assert.equal(displayText('abc', 2), 'ab…');
  assert.equal(displayText(null), '');
  assert.equal(displayText(undefined), '');
  assert.equal(displayText(42), '42');
  // hasUnsafeText keeps no state between calls (a global regex would).
  assert.ok(hasUnsafeText('\u202e'));
  assert.ok(hasUnsafeText('\u202e'));
});
