// Shared pieces of the browser end-to-end tests: building the extension, a loopback web
// server with torrent links, Chromium and Firefox launchers, polling with a deadline.

import http from 'node:http';
import { mkdtemp, rm, mkdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from '../../../extension/build.mjs';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const ARTIFACTS = path.join(REPO, 'tests/browser/artifacts');
export const IDS = JSON.parse(await readFile(path.join(REPO, 'manifests/extension-ids.json'), 'utf8'));

let built = null;
/** Builds extension/dist once per test process. */
export function builtExtension() {
  built ??= build({ zip: false });
  return built;
}

export async function tempDir(prefix) {
  const dir = await mkdtemp(path.join(tmpdir(), `swarmlink-${prefix}-`));
  return {
    path: dir,
    async [Symbol.asyncDispose]() {
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },
    remove: () => rm(dir, { recursive: true, force: true, maxRetries: 5 }),
  };
}

export async function artifactsDir() {
  await mkdir(ARTIFACTS, { recursive: true });
  return ARTIFACTS;
}

/** Polls `probe` until it returns a truthy value or the deadline passes. */
export async function waitFor(what, probe, { timeoutMs = 20000, intervalMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (last: ${last && (last.stack || last)})`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/**
 * A loopback web server for pages with torrent links. `routes` maps a path to
 * `{type, body}`; it records every request so tests can see what the extension fetched.
 */
export async function startWebServer(routes) {
  const requests = [];
  const server = http.createServer((req, res) => {
    requests.push({ url: req.url, cookie: req.headers.cookie || '', method: req.method });
    const route = routes[req.url.split('?')[0]];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const headers = { 'content-type': route.type, ...(route.headers || {}) };
    res.writeHead(200, headers);
    res.end(route.body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

/** A tiny valid-looking single-file torrent (the helper validates; the extension only sniffs). */
export function fakeTorrentBytes(name = 'demo.bin') {
  return Buffer.from(`d8:announce22:http://127.0.0.1:1/ann4:infod6:lengthi1e4:name${name.length}:${name}12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}ee`);
}

export const CHROMIUM = '/usr/bin/chromium';
export const FIREFOX = '/usr/bin/firefox-esr';

/** Launches Debian's Chromium with the extension (the recipe in shared/DESIGN.md). */
export async function launchChromium(extensionDir, userDataDir, { env } = {}) {
  const { chromium } = await import('playwright-core');
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: false,
    env: env || process.env,
    viewport: { width: 1000, height: 700 },
    args: [
      '--headless=new',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--disable-extensions-except=${extensionDir}`,
      `--load-extension=${extensionDir}`,
    ],
  });
  const worker = await waitFor('the extension service worker', () =>
    context.serviceWorkers().find((w) => w.url().startsWith(`chrome-extension://${IDS.chromium_extension_id}/`)),
  );
  return { context, worker };
}
