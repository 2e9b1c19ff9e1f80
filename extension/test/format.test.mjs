import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { translator, messagesGetter } from '../src/lib/i18n.js';
import {
  formatBytes,
  formatRate,
  formatEta,
  formatPercent,
  formatPeers,
  stateLabel,
  describeProgress,
  movingLabel,
} from '../src/lib/format.js';

test('sizes use binary units with three significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.00 KiB');
  assert.equal(formatBytes(1536), '1.50 KiB');
  assert.equal(formatBytes(10 * 1024 * 1024 + 1), '10.0 MiB');
  assert.equal(formatBytes(512 * 1024 * 1024), '512 MiB');
  assert.equal(formatBytes(3 * 1024 ** 4), '3.00 TiB');
  assert.equal(formatBytes(-1), '—');
  assert.equal(formatBytes(NaN), '—');
  assert.equal(formatBytes('x'), '—');
});

test('rates', () => {
  assert.equal(formatRate(0), '0 B/s');
  assert.equal(formatRate(-5), '0 B/s');
  assert.equal(formatRate(null), '0 B/s');
  assert.equal(formatRate(2.5 * 1024 * 1024), '2.50 MiB/s');
});

test('time left', () => {
  assert.equal(formatEta(null), '');
  assert.equal(formatEta(undefined), '');
  assert.equal(formatEta(-3), '');
  assert.equal(formatEta(0), '0 s');
  assert.equal(formatEta(45), '45 s');
  assert.equal(formatEta(60), '1 min');
  assert.equal(formatEta(150), '3 min');
  assert.equal(formatEta(3600), '1 h');
  assert.equal(formatEta(3900), '1 h 5 min');
  assert.equal(formatEta(86400 * 2 + 3 * 3600), '2 d 3 h');
});

test('percent never shows 100% before completion and clamps nonsense', () => {
  assert.equal(formatPercent(0), '0.0%');
  assert.equal(formatPercent(0.4567), '45.6%');
  assert.equal(formatPercent(0.99999), '99.9%');
  assert.equal(formatPercent(1), '100%');
  assert.equal(formatPercent(7), '100%');
  assert.equal(formatPercent(-1), '0.0%');
  assert.equal(formatPercent('junk'), '0.0%');
});

const en = translator(messagesGetter(JSON.parse(await readFile(new URL('../src/_locales/en/messages.json', import.meta.url), 'utf8'))));
const de = translator(messagesGetter(JSON.parse(await readFile(new URL('../src/_locales/de/messages.json', import.meta.url), 'utf8'))));

test('peers and states', () => {
  assert.equal(formatPeers(1, 1, en), '1 peer · 1 seed');
  assert.equal(formatPeers(3, 0, en), '3 peers · 0 seeds');
  assert.equal(formatPeers(3, 1, de), '3 Gegenstellen · 1 Seed');
  assert.equal(stateLabel('seeding', en), 'Seeding');
  assert.equal(stateLabel('seeding', de), 'Verteilt');
  assert.equal(stateLabel('weird', en), 'weird');
});

test('a move shows its share copied and where to, in the popup and the downloads page alike', () => {
  assert.equal(movingLabel({ state: 'seeding', moving: null }, en), null);
  assert.equal(movingLabel({ state: 'seeding' }, en), null);
  const t = { state: 'seeding', moving: { to: '/media/big', done_bytes: 512, total_bytes: 2048 } };
  assert.deepEqual(movingLabel(t, en), { text: 'Moving 25.0%', title: 'Moving to /media/big' });
  assert.equal(movingLabel(t, de).text, 'Wird verschoben 25.0%');
  // A total of zero is 0%, never NaN.
  assert.equal(movingLabel({ moving: { to: '/x', done_bytes: 0, total_bytes: 0 } }, en).text, 'Moving 0.0%');
});

test('the one-line summary says what a torrent is doing', () => {
  const base = { total_bytes: 2048, have_bytes: 1024, uploaded: 0, eta_secs: 90, error: null };
  assert.equal(describeProgress({ ...base, state: 'downloading' }, en), '1.00 KiB of 2.00 KiB · 2 min left');
  assert.equal(describeProgress({ ...base, state: 'downloading', eta_secs: null }, en), '1.00 KiB of 2.00 KiB · time left unknown');
  assert.match(describeProgress({ ...base, state: 'seeding' }, en), /Download succeeded/);
  assert.equal(describeProgress({ ...base, state: 'error', error: 'disk full' }, en), 'disk full');
  assert.equal(describeProgress({ ...base, state: 'paused' }, en), '1.00 KiB of 2.00 KiB');
  assert.equal(describeProgress({ ...base, state: 'downloading' }, de), '1.00 KiB von 2.00 KiB · noch 2 min');
});
