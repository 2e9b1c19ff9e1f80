// The full flow's world: bttrack (tracker + listing page) and btpublish (the always-up seed)
// on loopback, as the README's demo runs them. Everything is a real Swarmlink binary.

import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { writeFile, readFile, readdir, stat } from 'node:fs/promises';
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { workspaceBinaries, helpText, waitFor } from './harness.mjs';

/** Paths of the three binaries, or `{pending}` saying which part is not ready yet. */
export async function fullFlowBinaries() {
  const bins = await workspaceBinaries(['bttrack', 'btpublish', 'bthelper']);
  if (bins.pending) return bins;
  const needs = [
    [bins.bttrack, [], '--publish-key', 'bttrack has no command line yet'],
    [bins.btpublish, [], '--location', 'btpublish has no command line yet'],
    [bins.bthelper, [], 'daemon', 'bthelper has no daemon yet'],
  ];
  for (const [binary, sub, word, reason] of needs) {
    if (!(await helpText(binary, sub)).includes(word)) {
      if (process.env.CI) throw new Error(reason);
      return { pending: reason };
    }
  }
  return bins;
}

export async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A child process whose output is kept, killed by its PID when stopped. */
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

/** Makes `size` random bytes in `dir/name` and returns the path and its SHA-256. */
export async function randomFile(dir, name, size) {
  const file = path.join(dir, name);
  const bytes = randomBytes(size);
  await writeFile(file, bytes);
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), size };
}

export async function sha256Of(file) {
  return createHash('sha256').update(await readFile(file)).digest('hex');
}

/** Finds a file by name anywhere under `root` (the helper's download directory). */
export async function findFile(root, name) {
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(root, entry.name);
    if (entry.isFile() && entry.name === name) return full;
    if (entry.isDirectory()) {
      const found = await findFile(full, name);
      if (found) return found;
    }
  }
  return null;
}

/**
 * Starts bttrack on a port the OS picks and btpublish seeding `files`; resolves when every
 * file is registered (btpublish prints "NAME: URL" for each).
 */
export async function startSwarm(bins, workDir, files) {
  const key = randomBytes(12).toString('hex');
  const logEnv = { ...process.env, RUST_LOG: 'info', SWARMLINK_LOG: 'info' };
  const tracker = startProcess(
    bins.bttrack,
    [
      '--port', '0', '--bind', '127.0.0.1', '--ip', '127.0.0.1',
      '--file', path.join(workDir, 'btstate'), '--dfile', path.join(workDir, 'dstate'),
      '--publish-key', key, '--interval', '5', '--min-interval', '1',
    ],
    { env: logEnv, cwd: workDir },
  );
  const processes = [tracker];
  const stop = () => processes.forEach((p) => p.stop());
  try {
    const address = await waitFor('bttrack to listen', () => {
      if (tracker.child.exitCode !== null) throw new Error(`bttrack exited: ${tracker.output()}`);
      const m = tracker.output().match(/serving http:\/\/(127\.0\.0\.1:\d+)/);
      return m && m[1];
    }, { timeoutMs: 20000 });
    const origin = `http://${address}`;
    const seedPort = await freePort();
    const publisher = startProcess(
      bins.btpublish,
      ['--ip', '127.0.0.1', '--port', String(seedPort), '--location', `${origin}/publish/`, '--key', key, ...files],
      { env: logEnv, cwd: workDir },
    );
    processes.push(publisher);
    const links = await waitFor('btpublish to register every file', () => {
      if (publisher.child.exitCode !== null) throw new Error(`btpublish exited: ${publisher.output()}`);
      const found = [...publisher.output().matchAll(/^(.+): (http:\/\/\S+)$/gm)].map((m) => ({ name: m[1], url: m[2] }));
      return found.length >= files.length && found;
    }, { timeoutMs: 120000 });
    return { origin, links, stop, logs: () => processes.map((p) => p.output()).join('\n----\n') };
  } catch (err) {
    stop();
    throw err;
  }
}

export async function exists(file) {
  return stat(file).then(() => true, () => false);
}
