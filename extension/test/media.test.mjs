import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlayable, mediaKind, playerPath, parsePlayerQuery, isStreamUrl } from '../src/lib/media.js';

const HASH = 'ab'.repeat(20);

test('video and audio files get a Play button, others not', () => {
  for (const n of ['a.mp4', 'B.WEBM', 'c.mkv', 'song.mp3', 'x.flac']) assert.ok(isPlayable(n), n);
  for (const n of ['a.iso', 'readme', 'sub.srt', 'page.html', '', null]) assert.ok(!isPlayable(n), String(n));
  assert.equal(mediaKind('song.opus'), 'audio');
  assert.equal(mediaKind('film.mkv'), 'video');
});

test('the player link carries a hash and an index, and only those come back', () => {
  const path = playerPath(HASH.toUpperCase(), 3);
  assert.equal(path, `pages/player.html?hash=${HASH}&file=3`);
  assert.deepEqual(parsePlayerQuery(path.split('?')[1]), { infoHash: HASH, file: 3 });
  assert.equal(playerPath('xyz', 1), null);
  assert.equal(playerPath(HASH, -1), null);
  assert.equal(parsePlayerQuery(`hash=${HASH}&file=1.5`), null);
  assert.equal(parsePlayerQuery('hash=../x&file=1'), null);
});

test('only the helper loopback stream URLs are played', () => {
  assert.ok(isStreamUrl(`http://127.0.0.1:4000/stream/t/${HASH}/0/a.mp4`));
  assert.ok(isStreamUrl(`http://[::1]:4000/stream/t/${HASH}/0/a.mp4`));
  assert.ok(!isStreamUrl(`https://evil.example/stream/x`));
  assert.ok(!isStreamUrl('javascript:alert(1)'));
  assert.ok(!isStreamUrl(`http://127.0.0.1:4000/other`));
});
