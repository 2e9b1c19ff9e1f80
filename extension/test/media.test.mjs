import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isPlayable, mediaKind, playerPath, parsePlayerQuery, isStreamUrl, largestPlayable, mayHoldMedia, piecesUrlFor } from '../src/lib/media.js';

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

test('without a file index the player picks the largest video or audio file', () => {
  assert.equal(playerPath(HASH), `pages/player.html?hash=${HASH}`);
  assert.deepEqual(parsePlayerQuery(`hash=${HASH}`), { infoHash: HASH, file: null });
  assert.equal(parsePlayerQuery(`hash=${HASH}&file=`), null);
  const files = [
    { index: 0, path: 'Show/sample.mkv', length: 10 },
    { index: 2, path: 'Show/e01.mp4', length: 500 },
    { index: 3, path: 'Show/big.iso', length: 9000 },
    { index: 4, path: 'Show/e01.srt', length: 5 },
  ];
  assert.equal(largestPlayable(files).index, 2);
  assert.equal(largestPlayable([{ index: 0, path: 'a.iso', length: 1 }]), null);
  assert.equal(largestPlayable(null), null);
});

test('the popup offers Play for media files and folders, not for other single files', () => {
  for (const n of ['film.mp4', 'Show', 'Some Series S01 1080p', 'Big Buck Bunny (1080p).mp4']) assert.ok(mayHoldMedia(n), n);
  for (const n of ['debian-13.2.0-amd64-netinst.iso', 'archive.tar.zst', 'notes.txt']) assert.ok(!mayHoldMedia(n), n);
});

test('the piece map URL sits beside the stream URL on the same server', () => {
  assert.equal(piecesUrlFor(`http://127.0.0.1:4000/stream/tok/${HASH}/3/a%20b.mp4`), `http://127.0.0.1:4000/pieces/tok/${HASH}/3`);
  assert.equal(piecesUrlFor('https://evil.example/stream/a/b/c'), null);
  assert.equal(piecesUrlFor('http://127.0.0.1:4000/stream/x'), null);
});
