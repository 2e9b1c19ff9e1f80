#!/usr/bin/env node
// A test-only native host for the frame-time test: it speaks bthelper's protocol
// (helper/PROTOCOL.md: hello, list, subscribe, pause/resume/remove) over stdio and streams
// progress for N synthetic torrents at the daemon's pace (4 rounds a second, every active
// torrent changing in each round: the worst case). The real daemon cannot be filled with
// 2,000 changing torrents within CI's time; everything else is tested against the real one.
//
// Control: SWARMLINK_REPLAY_CONTROL names a JSON file `{"count": N}` read every round; when N
// changes the host sends a full snapshot of the new set, as the daemon does after a lag.
// Commands other than those above get `unknown_command`, as from an older helper.

import { readFileSync } from 'node:fs';

const ROUND_MS = 250;
const PART = 800; // statuses per frame: ~250 KB, well under the 1 MiB limit
const controlPath = process.env.SWARMLINK_REPLAY_CONTROL || '';

function control() {
  try {
    return JSON.parse(readFileSync(controlPath, 'utf8'));
  } catch {
    return { count: 0 };
  }
}

const STATES = ['downloading', 'downloading', 'seeding', 'seeding', 'downloading', 'paused', 'seeding', 'queued', 'downloading', 'error'];
const WORDS = ['debian', 'ubuntu', 'fedora', 'archive', 'lecture', 'dataset', 'podcast', 'open-movie', 'mirror', 'backup'];

function torrent(i) {
  const size = 1048576 * (1 + ((i * 7919) % 4096));
  const state = STATES[i % STATES.length];
  const progress = state === 'seeding' ? 1 : ((i * 37) % 100) / 100;
  return {
    info_hash: (i + 1).toString(16).padStart(40, '0'),
    name: `${WORDS[i % WORDS.length]}-${i}-${WORDS[(i * 3) % WORDS.length]}.bin`,
    state,
    progress,
    total_bytes: size,
    have_bytes: Math.floor(size * progress),
    downloaded: 0,
    uploaded: (i % 5) * size,
    down_rate: 0,
    up_rate: 0,
    peers: i % 30,
    seeds: i % 7,
    eta_secs: null,
    error: state === 'error' ? 'No space left on device (os error 28)' : null,
    save_path: `/home/user/Downloads/t${i}`,
    added_at: 1765000000 + i * 60,
  };
}

let torrents = new Map();
let subscribed = false;
let round = 0;

function resize(count) {
  const next = new Map();
  for (let i = 0; i < count; i++) {
    const t = torrents.get(i) || torrent(i);
    next.set(i, t);
  }
  torrents = next;
}

function send(message) {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32LE(body.length, 0);
  process.stdout.write(Buffer.concat([head, body]));
}

function sendProgress(list, full) {
  const parts = Math.max(1, Math.ceil(list.length / PART));
  for (let p = 0; p < parts; p++) {
    send({ event: 'progress', torrents: list.slice(p * PART, (p + 1) * PART), full, part: p + 1, parts });
  }
}

function tick() {
  const want = Number(control().count) || 0;
  if (want !== torrents.size) {
    resize(want);
    if (subscribed) sendProgress([...torrents.values()], true);
    return;
  }
  if (!subscribed) return;
  round += 1;
  const changed = [];
  for (const [i, t] of torrents) {
    if (t.state === 'downloading') {
      t.progress = Math.min(0.999, t.progress + 0.0005);
      t.have_bytes = Math.floor(t.total_bytes * t.progress);
      t.down_rate = 65536 * (1 + ((i + round) % 64));
      t.up_rate = 4096 * ((i + round) % 8);
      t.eta_secs = Math.round((t.total_bytes - t.have_bytes) / t.down_rate);
      changed.push(t);
    } else if (t.state === 'seeding') {
      t.up_rate = 8192 * (1 + ((i + round) % 16));
      t.uploaded += t.up_rate / 4;
      changed.push(t);
    }
  }
  if (changed.length) sendProgress(changed, false);
}

function byHash(hash) {
  for (const t of torrents.values()) if (t.info_hash === hash) return t;
  return null;
}

function handle(req) {
  const ok = (result) => send({ id: req.id, ok: true, result });
  const fail = (code, message) => send({ id: req.id, ok: false, error: { code, message } });
  switch (req.cmd) {
    case 'hello':
      return ok({ helper: 'bthelper', version: 'replay', protocol: 1, pid: process.pid, listen_port: 0, torrents: torrents.size, active: 0, settings: { download_dir: '/home/user/Downloads' } });
    case 'list': {
      const all = [...torrents.values()];
      const offset = Number(req.offset) || 0;
      const next = offset + PART < all.length ? offset + PART : null;
      return ok({ torrents: all.slice(offset, offset + PART), total: all.length, next_offset: next });
    }
    case 'subscribe':
      subscribed = true;
      ok({ subscribed: true });
      return sendProgress([...torrents.values()], true);
    case 'pause':
    case 'resume': {
      const t = byHash(req.info_hash);
      if (!t) return fail('unknown_torrent', 'no such torrent');
      t.state = req.cmd === 'pause' ? 'paused' : 'downloading';
      t.down_rate = 0;
      sendProgress([t], false);
      return ok({ info_hash: t.info_hash, paused: req.cmd === 'pause' });
    }
    default:
      return fail('unknown_command', `unknown command ${req.cmd}`);
  }
}

resize(Number(control().count) || 0);
let buffer = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffer = Buffer.concat([buffer, chunk]);
  while (buffer.length >= 4) {
    const length = buffer.readUInt32LE(0);
    if (buffer.length < 4 + length) break;
    const body = buffer.subarray(4, 4 + length).toString('utf8');
    buffer = buffer.subarray(4 + length);
    let req;
    try {
      req = JSON.parse(body);
    } catch {
      send({ id: null, ok: false, error: { code: 'bad_json', message: 'not JSON' } });
      continue;
    }
    handle(req);
  }
});
process.stdin.on('end', () => process.exit(0));
setInterval(tick, ROUND_MS);
