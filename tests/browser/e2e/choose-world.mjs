// The world of the "choose what, where and when" browser tests: an open bttrack (any torrent
// may announce) and one python3-libtorrent session seeding torrents it made for it
// (lt_seeder.py), plus a client of the helper daemon's socket (helper/PROTOCOL.md framing) for
// what a test reads or sets outside the browser.

import { spawn, spawnSync } from 'node:child_process';
import { createConnection } from 'node:net';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor, stopPid } from './harness.mjs';
import { findFile } from './swarm.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SYSTEM_PYTHON = '/usr/bin/python3';

/** Whether Debian's python3 can import libtorrent (else the tests are skipped as pending). */
export function libtorrentMissing() {
  const run = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { encoding: 'utf8' });
  if (run.status === 0) return false;
  if (process.env.CI) throw new Error(`python3-libtorrent is not importable: ${run.stderr}`);
  return 'python3-libtorrent is not installed';
}

function startProcess(binary, args, options) {
  const child = spawn(binary, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return {
    child,
    output: () => output,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    },
  };
}

/**
 * bttrack with `--open` on a port the OS picks, and libtorrent seeding each of `contents`
 * (files or directories) with torrents announcing to it. Resolves with the tracker's origin,
 * the seeder's port, and per content `{torrent, hash}`.
 */
export async function startOpenSwarm(bins, workDir, contents, pieceLen = 16384) {
  const tracker = startProcess(
    bins.bttrack,
    [
      '--port', '0', '--bind', '127.0.0.1', '--ip', '127.0.0.1', '--open',
      '--file', path.join(workDir, 'btstate'), '--dfile', path.join(workDir, 'dstate'),
      '--interval', '5', '--min-interval', '1',
    ],
    { env: { ...process.env, RUST_LOG: 'info' }, cwd: workDir },
  );
  const processes = [tracker];
  const stop = () => processes.forEach((p) => p.stop());
  try {
    const address = await waitFor('bttrack to listen', () => {
      if (tracker.child.exitCode !== null) throw new Error(`bttrack exited: ${tracker.output()}`);
      const m = tracker.output().match(/serving http:\/\/(127\.0\.0\.1:\d+)/);
      return m && m[1];
    });
    const origin = `http://${address}`;
    const seeder = startProcess(SYSTEM_PYTHON, [path.join(HERE, 'lt_seeder.py'), `${origin}/announce`, String(pieceLen), ...contents], { cwd: workDir });
    processes.push(seeder);
    await waitFor('libtorrent to seed', () => {
      if (seeder.child.exitCode !== null) throw new Error(`lt_seeder.py exited: ${seeder.output()}`);
      return /^seeding/m.test(seeder.output());
    }, { timeoutMs: 60000 });
    const port = Number(seeder.output().match(/^port (\d+)$/m)[1]);
    const torrents = {};
    for (const m of seeder.output().matchAll(/^torrent (.+) ([0-9a-f]{40})$/gm)) torrents[m[1]] = { torrent: `${m[1]}.torrent`, hash: m[2] };
    return { origin, port, torrents, stop, logs: () => processes.map((p) => p.output()).join('\n----\n') };
  } catch (err) {
    stop();
    throw err;
  }
}

/** The daemon's socket under an isolated SWARMLINK_HOME. */
export const daemonSocket = (home) => path.join(home, 'run', 'daemon.sock');

/** One request to the daemon over its socket; resolves with `result` or rejects with the error. */
export function daemonRequest(home, cmd, args = {}) {
  return new Promise((resolve, reject) => {
    const socket = createConnection(daemonSocket(home));
    let buffer = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to ${cmd}`));
    }, 15000);
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('connect', () => {
      const body = Buffer.from(JSON.stringify({ id: 1, cmd, ...args }), 'utf8');
      const head = Buffer.alloc(4);
      head.writeUInt32LE(body.length);
      socket.write(Buffer.concat([head, body]));
    });
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      while (buffer.length >= 4 && buffer.length >= 4 + buffer.readUInt32LE(0)) {
        const len = buffer.readUInt32LE(0);
        const message = JSON.parse(buffer.subarray(4, 4 + len).toString('utf8'));
        buffer = buffer.subarray(4 + len);
        if (message.id !== 1) continue;
        clearTimeout(timer);
        socket.end();
        if (message.ok) resolve(message.result);
        else reject(Object.assign(new Error(message.error && message.error.message), { code: message.error && message.error.code }));
        return;
      }
    });
  });
}

/** Every torrent's status from the daemon, by info-hash. */
export async function daemonTorrents(home) {
  const result = await daemonRequest(home, 'list');
  return Object.fromEntries(result.torrents.map((t) => [t.info_hash, t]));
}

/**
 * Runs `bthelper ARGS` against the isolated helper (it starts the daemon when none runs; the
 * daemon inherits `env`).
 */
export function bthelperCli(bthelper, home, args, env = {}) {
  const run = spawnSync(bthelper, args, { encoding: 'utf8', env: { ...process.env, ...env, SWARMLINK_HOME: home }, timeout: 60000 });
  if (run.status !== 0) throw new Error(`bthelper ${args.join(' ')} failed: ${run.stderr}`);
  return run.stdout;
}

/** Stops the daemon of an isolated helper by the PID in its lock file. */
export async function stopDaemon(home) {
  if (!home) return;
  const lock = await findFile(home, 'daemon.lock');
  if (lock) stopPid(Number((await readFile(lock, 'utf8')).trim()));
}

/** Every file below `dir`, relative to it, sorted (nothing when it does not exist). */
export async function filesBelow(dir) {
  const out = [];
  const walk = async (d, rel) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name), rel ? `${rel}/${e.name}` : e.name);
      else out.push(rel ? `${rel}/${e.name}` : e.name);
    }
  };
  await walk(dir, '');
  return out.sort();
}
