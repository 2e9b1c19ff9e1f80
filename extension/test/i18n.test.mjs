import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { translator, messagesGetter } from '../src/lib/i18n.js';
import { COLUMNS, STATE_FILTERS } from '../src/lib/table.js';
import { TABS } from '../src/pages/downloads-detail.js';
import { PRIORITIES } from '../src/lib/detail.js';

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'src');
const load = async (lang) => JSON.parse(await readFile(path.join(SRC, '_locales', lang, 'messages.json'), 'utf8'));
const LANGS = (await readdir(path.join(SRC, '_locales'))).sort();

test('English and German are complete: the same keys, the same placeholders', async () => {
  assert.deepEqual(LANGS, ['de', 'en']);
  const en = await load('en');
  const de = await load('de');
  assert.deepEqual(Object.keys(de).sort(), Object.keys(en).sort());
  for (const [key, entry] of Object.entries(en)) {
    const names = (e) => (e.message.match(/\$[A-Z_]+\$/g) || []).sort();
    assert.deepEqual(names(de[key]), names(entry), key);
    assert.deepEqual(Object.keys(de[key].placeholders || {}), Object.keys(entry.placeholders || {}), key);
    assert.ok(de[key].message.trim(), `${key} is translated`);
  }
});

test('every key the pages and the manifest use exists', async () => {
  const en = await load('en');
  const used = new Set();
  const files = ['pages/downloads.html', 'pages/downloads.js', 'pages/downloads-table.js', 'pages/downloads-detail.js', 'pages/popup.html', 'pages/popup.js', 'pages/popup-view.js', 'lib/format.js', 'pages/player.html', 'pages/player.js', 'pages/options.html', 'manifest.base.json'];
  for (const f of files) {
    const text = await readFile(path.join(SRC, f), 'utf8');
    for (const m of text.matchAll(/data-i18n(?:-label|-title|-placeholder)?="([A-Za-z0-9_]+)"/g)) used.add(m[1]);
    for (const m of text.matchAll(/t9n\('([A-Za-z0-9_]+)'/g)) used.add(m[1]);
    for (const m of text.matchAll(/__MSG_([A-Za-z0-9_]+)__/g)) used.add(m[1]);
  }
  // Keys built from data: states, columns, filters, tabs, priorities, tracker statuses.
  for (const s of ['checking', 'allocating', 'connecting', 'downloading', 'seeding', 'paused', 'queued', 'awaiting_selection', 'error']) used.add(`state_${s}`);
  for (const c of COLUMNS) used.add(`col_${c}`);
  for (const f of Object.keys(STATE_FILTERS)) used.add(`filter_${f}`);
  for (const t of TABS) used.add(`tab_${t}`);
  for (const p of [...PRIORITIES, 'mixed']) used.add(`priority_${p}`);
  for (const s of ['working', 'updating', 'not_contacted', 'error', 'disabled']) used.add(`tracker_${s}`);
  assert.ok(used.size > 60, `found ${used.size} keys`);
  const missing = [...used].filter((k) => !en[k]);
  assert.deepEqual(missing, []);
});

test('placeholders are filled and a missing key is visible', async () => {
  const t = translator(messagesGetter(await load('de')));
  assert.equal(t('piecesSummary', 3, 10), '3 von 10 Teilen geprüft');
  assert.equal(t('removeOne', 'a.iso'), '„a.iso“ aus Swarmlink entfernen?');
  assert.equal(t('no_such_key'), '⟦no_such_key⟧');
});
