import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  isMagnet,
  isTorrentUrl,
  classifyLink,
  isPlainLeftClick,
  isTorrentDownload,
  TORRENT_NAVIGATION_REGEX,
  urlFromInterceptHash,
} from '../src/lib/links.js';

const HASH = '0123456789abcdef0123456789abcdef01234567';

test('magnet links need a BitTorrent xt', () => {
  assert.ok(isMagnet(`magnet:?xt=urn:btih:${HASH}&dn=x`));
  assert.ok(isMagnet(`MAGNET:?dn=x&xt=urn:btih:${HASH}`));
  assert.ok(isMagnet('magnet:?xt=urn:btmh:1220abcd'));
  assert.ok(!isMagnet('magnet:?xt=urn:ed2k:abcd'));
  assert.ok(!isMagnet('magnet:'));
  assert.ok(!isMagnet(`https://example.org/?magnet:?xt=urn:btih:${HASH}`));
  assert.ok(!isMagnet(null));
});

test('.torrent URLs are judged on their path, not query or fragment', () => {
  assert.ok(isTorrentUrl('http://127.0.0.1:8080/files/movie.torrent'));
  assert.ok(isTorrentUrl('https://example.org/a/b/Movie.TORRENT?passkey=1'));
  assert.ok(isTorrentUrl('https://example.org/dl/My%20File.torrent#top'));
  assert.ok(!isTorrentUrl('https://example.org/page?file=movie.torrent'));
  assert.ok(!isTorrentUrl('https://example.org/movie.torrent.html'));
  assert.ok(!isTorrentUrl('ftp://example.org/movie.torrent'));
  assert.ok(!isTorrentUrl('javascript:alert(1)//.torrent'));
  assert.ok(!isTorrentUrl('not a url'));
  assert.ok(!isTorrentUrl(undefined));
});

test('classifyLink', () => {
  assert.equal(classifyLink(`magnet:?xt=urn:btih:${HASH}`), 'magnet');
  assert.equal(classifyLink('https://x.org/a.torrent'), 'torrent');
  assert.equal(classifyLink('https://x.org/a.zip'), null);
});

test('only plain, unhandled primary clicks are intercepted', () => {
  const plain = { isTrusted: true, button: 0, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, defaultPrevented: false };
  assert.ok(isPlainLeftClick(plain));
  for (const change of [
    { button: 1 },
    { button: 2 },
    { ctrlKey: true },
    { metaKey: true },
    { shiftKey: true },
    { altKey: true },
    { defaultPrevented: true },
    { isTrusted: false },
  ]) {
    assert.ok(!isPlainLeftClick({ ...plain, ...change }), JSON.stringify(change));
  }
});

test('torrent downloads are recognised by MIME, URL or file name', () => {
  assert.ok(isTorrentDownload({ mime: 'application/x-bittorrent', url: 'http://h/file' }));
  assert.ok(isTorrentDownload({ mime: 'Application/X-BitTorrent; charset=binary', url: 'http://h/file' }));
  assert.ok(isTorrentDownload({ mime: 'application/octet-stream', url: 'http://h/x', finalUrl: 'http://h/x.torrent' }));
  assert.ok(isTorrentDownload({ mime: '', url: 'blob:x', filename: '/home/u/Downloads/x.torrent' }));
  assert.ok(!isTorrentDownload({ mime: 'application/zip', url: 'http://h/x.zip', filename: '/tmp/x.zip' }));
  assert.ok(!isTorrentDownload(null));
});

test('the navigation regex agrees with isTorrentUrl on http(s) URLs', () => {
  const re = new RegExp(TORRENT_NAVIGATION_REGEX);
  for (const url of [
    'http://127.0.0.1:8080/movie.torrent',
    'https://example.org/a/Movie.Torrent?x=1',
    'https://example.org/a.torrent#frag',
    'https://example.org/page?file=movie.torrent',
    'https://example.org/movie.torrent.html',
    'https://example.org/movie',
  ]) {
    assert.equal(re.test(url), isTorrentUrl(url), url);
  }
});

test('the intercept page only accepts torrent links from its fragment', () => {
  assert.equal(urlFromInterceptHash('#http://h/a.torrent'), 'http://h/a.torrent');
  assert.equal(urlFromInterceptHash('#https%3A%2F%2Fh%2Fa.torrent'), 'https://h/a.torrent');
  assert.equal(urlFromInterceptHash('#javascript:alert(1)'), null);
  assert.equal(urlFromInterceptHash('#https://h/page.html'), null);
  assert.equal(urlFromInterceptHash(''), null);
});
