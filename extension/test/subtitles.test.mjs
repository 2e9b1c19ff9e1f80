import { test } from 'node:test';
import assert from 'node:assert/strict';
import { srtToVtt, subtitlesFor } from '../src/lib/subtitles.js';

test('SubRip becomes WebVTT: header, dots for milliseconds, numbers and positions dropped', () => {
  const srt = '\uFEFF1\r\n00:00:01,000 --> 00:00:04,500 X1:10 X2:20\r\nHello <i>world</i>\r\nsecond line\r\n\r\n2\r\n00:01:02,07 --> 00:01:03,900\r\nBye\r\n';
  assert.equal(
    srtToVtt(srt),
    'WEBVTT\n\n00:00:01.000 --> 00:00:04.500\nHello <i>world</i>\nsecond line\n\n00:01:02.070 --> 00:01:03.900\nBye\n',
  );
});

test('cue text is escaped, unknown tags dropped, and an arrow in the text cannot end the timing', () => {
  const vtt = srtToVtt('1\n00:00:00,000 --> 00:00:01,000\n<font color="red">A & B</font> <b>1 < 2</b> -->\n');
  assert.equal(vtt, 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nA &amp; B <b>1 &lt; 2</b> →\n');
});

test('a block without a timing is skipped; no number, CR line ends and extra blank lines are fine', () => {
  const srt = 'garbage\nmore garbage\n\n\n\n00:00:05,000 --> 00:00:06,000\none\r\r7\r00:00:07,000 --> 00:00:08,000\rtwo\r';
  assert.equal(srtToVtt(srt), 'WEBVTT\n\n00:00:05.000 --> 00:00:06.000\none\n\n00:00:07.000 --> 00:00:08.000\ntwo\n');
  assert.equal(srtToVtt(''), 'WEBVTT\n\n');
  assert.equal(srtToVtt(null), 'WEBVTT\n\n');
});

test('subtitles beside the video: same folder, .srt or .vtt, its own first, language from the name', () => {
  const files = [
    { index: 0, path: 'Film/film.mkv' },
    { index: 1, path: 'Film/film.en.srt' },
    { index: 2, path: 'Film/film.pt-BR.VTT' },
    { index: 3, path: 'Film/commentary.srt' },
    { index: 4, path: 'Film/Subs/film.de.srt' },
    { index: 5, path: 'Film/readme.txt' },
    { index: 6, path: 'Film/film.srt' },
  ];
  assert.deepEqual(subtitlesFor(files, 0), [
    { index: 1, name: 'film.en.srt', format: 'srt', label: 'en', lang: 'en' },
    { index: 2, name: 'film.pt-BR.VTT', format: 'vtt', label: 'pt-BR', lang: 'pt-BR' },
    { index: 6, name: 'film.srt', format: 'srt', label: 'film', lang: '' },
    { index: 3, name: 'commentary.srt', format: 'srt', label: 'commentary', lang: '' },
  ]);
  assert.deepEqual(subtitlesFor([{ index: 0, path: 'clip.webm' }, { index: 1, path: 'clip.srt' }], 0), [
    { index: 1, name: 'clip.srt', format: 'srt', label: 'clip', lang: '' },
  ]);
  assert.deepEqual(subtitlesFor(files, 9), []);
  assert.deepEqual(subtitlesFor(null, 0), []);
});
