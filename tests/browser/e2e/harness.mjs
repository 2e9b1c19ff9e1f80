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
 * `{type, body, status?, headers?}` (any method); it records every request so tests can see
 * what the extension fetched.
 */
export async function startWebServer(routes) {
  const requests = [];
  const server = http.createServer((req, res) => {
    // `dest` tells a script's fetch() ("empty", as the extension's) from the browser's own
    // navigations and downloads ("document", "iframe").
    requests.push({ url: req.url, cookie: req.headers.cookie || '', method: req.method, dest: req.headers['sec-fetch-dest'] || '' });
    const route = routes[req.url.split('?')[0]];
    if (!route) {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found');
      return;
    }
    const headers = { 'content-type': route.type, ...(route.headers || {}) };
    res.writeHead(route.status || 200, headers);
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

/** A tiny valid single-file torrent named `name` (any Unicode; lengths counted in bytes). */
export function torrentNamed(name, length = 1) {
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([
    Buffer.from(`d8:announce22:http://127.0.0.1:1/ann4:infod6:lengthi${length}e4:name${n.length}:`),
    n,
    Buffer.from(`12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}ee`),
  ]);
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

/**
 * Launches Debian's Firefox ESR over WebDriver BiDi with the extension installed. `home` is
 * the HOME Firefox sees, so ~/.mozilla/native-messaging-hosts is the test's own.
 */
export async function launchFirefox(extensionDir, home, { env = {} } = {}) {
  const puppeteer = (await import('puppeteer-core')).default;
  const browser = await puppeteer.launch({
    browser: 'firefox',
    executablePath: FIREFOX,
    headless: true,
    protocol: 'webDriverBiDi',
    userDataDir: path.join(home, 'profile'),
    env: { ...process.env, HOME: home, MOZ_HEADLESS: '1', ...env },
    extraPrefsFirefox: {
      // MV3 host permissions are opt-in in Firefox; a test profile grants them like a user would.
      'extensions.originControls.grantByDefault': true,
      'browser.download.start_downloads_in_tmp_dir': true,
    },
  });
  const id = await browser.installExtension(extensionDir);
  return { browser, id };
}

/**
 * Builds the workspace binaries (debug, shared target dir) and returns the named ones' paths, or
 * `{pending: reason}` when one does not build yet: the full-flow tests are skipped as pending
 * then, never faked.
 */
export async function workspaceBinaries(names) {
  const { spawnSync } = await import('node:child_process');
  // Every binary in one call, as scripts/test.sh and the Rust tests' bin() build them: a `--bin`
  // subset resolves other dependency features and would compile a second copy of the tree.
  const args = ['build', '--quiet', '--workspace', '--bins'];
  const built = spawnSync('cargo', args, { cwd: REPO, encoding: 'utf8', timeout: 900000 });
  if (built.status !== 0) {
    const firstError = (built.stderr || '').split('\n').find((l) => l.startsWith('error')) || built.stderr;
    const reason = `cargo ${args.join(' ')} failed: ${firstError}`;
    // Skipping as pending is for a developer's tree while parts land; CI must fail instead.
    if (process.env.CI) throw new Error(reason);
    return { pending: reason };
  }
  const target = process.env.CARGO_TARGET_DIR || path.join(REPO, 'target');
  return Object.fromEntries(names.map((n) => [n, path.join(target, 'debug', n)]));
}

/** What `<bin> --help` says, to tell whether a part has landed the feature a test needs. */
export async function helpText(binary, sub = []) {
  const { spawnSync } = await import('node:child_process');
  const run = spawnSync(binary, [...sub, '--help'], { encoding: 'utf8', timeout: 20000 });
  return `${run.stdout || ''}${run.stderr || ''}`;
}

/**
 * Registers bthelper as the native host for a Chromium profile: with `bthelper install` once
 * it exists, otherwise by writing the manifest Chromium reads from <user-data-dir>.
 */
export async function registerChromiumHost(bthelper, userDataDir) {
  const { spawnSync } = await import('node:child_process');
  const { writeFile } = await import('node:fs/promises');
  if ((await helpText(bthelper)).match(/^\s+install\b/m)) {
    const run = spawnSync(bthelper, ['install', '--browser', 'chromium', '--user-data-dir', userDataDir], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`bthelper install failed: ${run.stderr}`);
    return 'bthelper install';
  }
  const dir = path.join(userDataDir, 'NativeMessagingHosts');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, `${IDS.native_host_name}.json`),
    JSON.stringify({
      name: IDS.native_host_name,
      description: 'Swarmlink helper',
      path: bthelper,
      type: 'stdio',
      allowed_origins: [`chrome-extension://${IDS.chromium_extension_id}/`],
    }),
  );
  return 'manifest written by the test';
}

/** Registers bthelper for Firefox under `home` (~/.mozilla/native-messaging-hosts). */
export async function registerFirefoxHost(bthelper, home) {
  const { spawnSync } = await import('node:child_process');
  const { writeFile } = await import('node:fs/promises');
  if ((await helpText(bthelper)).match(/^\s+install\b/m)) {
    const run = spawnSync(bthelper, ['install', '--browser', 'firefox'], { encoding: 'utf8', env: { ...process.env, HOME: home } });
    if (run.status !== 0) throw new Error(`bthelper install failed: ${run.stderr}`);
    return 'bthelper install';
  }
  const dir = path.join(home, '.mozilla', 'native-messaging-hosts');
  await mkdir(dir, { recursive: true });
  await writeFile(
    path.join(dir, `${IDS.native_host_name}.json`),
    JSON.stringify({
      name: IDS.native_host_name,
      description: 'Swarmlink helper',
      path: bthelper,
      type: 'stdio',
      allowed_extensions: [IDS.firefox_addon_id],
    }),
  );
  return 'manifest written by the test';
}

/** Stops a process we started (or the daemon our relay started), by its PID only. */
export function stopPid(pid) {
  if (!pid) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    // already gone
  }
}

/**
 * Runs axe-core (WCAG 2.1 A/AA rules: names, roles, contrast, ...) in a Playwright page and
 * returns its violations. CDP evaluation is not subject to the page's CSP, so the strict
 * extension CSP stays as shipped.
 */
export async function axeViolations(page) {
  const { createRequire } = await import('node:module');
  const require = createRequire(import.meta.url);
  const source = await readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
  await page.evaluate(source);
  const result = await page.evaluate(() =>
    globalThis.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } }),
  );
  return result.violations.map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}
