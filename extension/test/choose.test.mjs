import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Choice, awaitingTorrents, targetFolders, currentFolder, chooseFromHash, isInfoHash } from '../src/lib/choose.js';

// A season: two episodes in S01, one in S02, a readme; index 2 is a pad file the helper left out.
const FILES = [
  { index: 0, path: 'Show/S01/e01.mkv', length: 1000 },
  { index: 1, path: 'Show/S01/e02.mkv', length: 2000 },
  { index: 3, path: 'Show/S02/e01.mkv', length: 4000 },
  { index: 4, path: 'Show/readme.txt', length: 10 },
];

const find = (tree, path) => {
  const walk = (node) => {
    for (const c of node.children) {
      if (c.path === path) return c;
      if (!c.file) {
        const f = walk(c);
        if (f) return f;
      }
    }
    return null;
  };
  return walk(tree);
};

test('every file starts checked; totals count files and bytes', () => {
  const c = new Choice(FILES);
  assert.deepEqual(c.indices(), [0, 1, 3, 4]);
  assert.deepEqual(c.totals(), { files: 4, bytes: 7010, totalFiles: 4, totalBytes: 7010 });
  assert.equal(c.state(c.tree.children[0]), 'checked');
  assert.deepEqual(c.request('a'.repeat(40)), { info_hash: 'a'.repeat(40), files: 'all' });
});

test('a file toggles alone; its folders turn mixed, then unchecked', () => {
  const c = new Choice(FILES);
  const e01 = find(c.tree, 'Show/S01/e01.mkv');
  const s01 = find(c.tree, 'Show/S01');
  const show = find(c.tree, 'Show');
  c.toggle(e01);
  assert.equal(c.state(e01), 'unchecked');
  assert.equal(c.state(s01), 'mixed');
  assert.equal(c.state(show), 'mixed');
  c.toggle(find(c.tree, 'Show/S01/e02.mkv'));
  assert.equal(c.state(s01), 'unchecked');
  assert.equal(c.state(show), 'mixed');
  assert.deepEqual(c.indices(), [3, 4]);
  assert.deepEqual(c.totals(), { files: 2, bytes: 4010, totalFiles: 4, totalBytes: 7010 });
  assert.deepEqual(c.request('b'.repeat(40), '/media/videos'), { info_hash: 'b'.repeat(40), files: [3, 4], save_dir: '/media/videos' });
});

test('a folder checks or clears everything below it; a mixed folder checks all', () => {
  const c = new Choice(FILES);
  const show = find(c.tree, 'Show');
  const s01 = find(c.tree, 'Show/S01');
  c.toggle(show);
  assert.deepEqual(c.indices(), []);
  assert.equal(c.request('c'.repeat(40)), null, 'nothing chosen: nothing to send');
  c.toggle(s01);
  assert.deepEqual(c.indices(), [0, 1]);
  assert.equal(c.state(show), 'mixed');
  c.toggle(show);
  assert.deepEqual(c.indices(), [0, 1, 3, 4], 'a mixed folder is checked whole');
  c.toggle(find(c.tree, 'Show/S01/e02.mkv'));
  c.toggle(s01);
  assert.deepEqual(c.indices(), [0, 1, 3, 4]);
  c.setAll(false);
  assert.equal(c.state(show), 'unchecked');
  c.setAll(true);
  assert.equal(c.state(show), 'checked');
});

test('rows carry the checkbox state and follow collapsed folders', () => {
  const c = new Choice(FILES);
  c.toggle(find(c.tree, 'Show/readme.txt'));
  const rows = c.rows(new Set());
  assert.deepEqual(rows.map((r) => [r.node.path, r.depth, r.check]), [
    ['Show', 0, 'mixed'],
    ['Show/S01', 1, 'checked'],
    ['Show/S01/e01.mkv', 2, 'checked'],
    ['Show/S01/e02.mkv', 2, 'checked'],
    ['Show/S02', 1, 'checked'],
    ['Show/S02/e01.mkv', 2, 'checked'],
    ['Show/readme.txt', 1, 'unchecked'],
  ]);
  assert.deepEqual(c.rows(new Set(['Show/S01'])).map((r) => r.node.path), ['Show', 'Show/S01', 'Show/S02', 'Show/S02/e01.mkv', 'Show/readme.txt']);
});

test('a single-file torrent and a hostile answer', () => {
  const one = new Choice([{ index: 0, path: 'movie.mkv', length: 5 }]);
  assert.deepEqual(one.rows(new Set()).map((r) => [r.node.path, r.check]), [['movie.mkv', 'checked']]);
  one.toggle(one.tree.children[0]);
  assert.equal(one.request('d'.repeat(40)), null);
  const bad = new Choice([null, { index: -1, path: 'x' }, { index: 2, path: 'ok', length: 'many' }, 'nope']);
  assert.deepEqual(bad.indices(), [2]);
  assert.equal(new Choice(undefined).totals().totalFiles, 0);
});

test('torrents that wait, folders to offer, the page hash', () => {
  const h = 'e'.repeat(40);
  assert.deepEqual(
    awaitingTorrents([{ info_hash: h, state: 'awaiting_selection' }, { info_hash: 'f'.repeat(40), state: 'downloading' }, { info_hash: 'x', state: 'awaiting_selection' }, null]).map((t) => t.info_hash),
    [h],
  );
  const folders = targetFolders({ download_dir: '/home/u/Downloads', allowed_dirs: ['/media/videos', '/home/u/Downloads', 7] });
  assert.deepEqual(folders, ['/home/u/Downloads', '/media/videos']);
  assert.deepEqual(targetFolders(null), []);
  assert.equal(currentFolder(folders, '/media/videos/Show'), '/media/videos');
  assert.equal(currentFolder(folders, '/media/videos2/Show'), '/home/u/Downloads', 'a prefix is no folder');
  assert.equal(currentFolder(['/d', '/d/sub'], '/d/sub/Show'), '/d/sub', 'the longest folder that holds it');
  assert.equal(currentFolder([], '/x'), null);
  assert.equal(chooseFromHash(`#choose=${'A'.repeat(40)}`), 'a'.repeat(40));
  assert.equal(chooseFromHash('#choose=123'), null);
  assert.equal(chooseFromHash(''), null);
  assert.ok(isInfoHash(h));
  assert.ok(!isInfoHash('E'.repeat(40)));
});
