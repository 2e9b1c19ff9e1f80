// Firefox ESR, every part real: bthelper registered for Firefox under a temporary HOME (with
// `bthelper install --browser firefox`), bttrack and btpublish on loopback. A click on the
// tracker's listing page reaches the helper and the download completes with the right bytes.
// (WebDriver BiDi cannot open moz-extension:// pages, so completion is observed on disk and
// through the in-page notice rather than in the popup.)

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readFile } from 'node:fs/promises';
import {
  builtExtension,
  tempDir,
  artifactsDir,
  waitFor,
  launchFirefox,
  registerFirefoxHost,
  stopPid,
} from './harness.mjs';
import { fullFlowBinaries, startSwarm, randomFile, sha256Of, findFile } from './swarm.mjs';

const bins = await fullFlowBinaries();
const pending = bins.pending ? `pending: ${bins.pending}` : false;

let dir;
let swarm;
let browser;
let artifacts;
let helperHome;
let file;
let registeredWith;

before(async () => {
  if (pending) return;
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('firefox-full');
  const source = path.join(dir.path, 'published');
  await mkdir(source);
  file = await randomFile(source, 'firefox-file.bin', 2 * 1024 * 1024 + 99);
  swarm = await startSwarm(bins, dir.path, [file.file]);
  helperHome = path.join(dir.path, 'swarmlink');
  const home = path.join(dir.path, 'home');
  await mkdir(home);
  registeredWith = await registerFirefoxHost(bins.bthelper, home);
  ({ browser } = await launchFirefox(out.firefox, home, { env: { SWARMLINK_HOME: helperHome } }));
});

after(async () => {
  await browser?.close();
  if (helperHome) {
    // The daemon our relay started holds its PID in run/daemon.lock (helper/PROTOCOL.md).
    const lock = await findFile(helperHome, 'daemon.lock');
    if (lock) stopPid(Number((await readFile(lock, 'utf8')).trim()));
  }
  swarm?.stop();
  await dir?.remove();
});

test('Firefox: a click on the tracker listing reaches the helper and the download completes', { skip: pending, timeout: 180000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${swarm.origin}/`);
  const link = await page.waitForSelector('a[type="application/x-bittorrent"]');
  assert.equal(registeredWith, 'bthelper install', 'the real installer registered the Firefox host');
  await link.click();
  await page.waitForSelector('swarmlink-toast[data-kind=ok]', { timeout: 30000 });
  const got = await waitFor('the download on disk with the right bytes', async () => {
    const found = await findFile(helperHome, 'firefox-file.bin');
    return found && (await sha256Of(found)) === file.sha256 && found;
  }, { timeoutMs: 120000, intervalMs: 500 }).catch((err) => {
    throw new Error(`${err.message}\n--- logs:\n${swarm.logs()}`);
  });
  assert.ok(got.startsWith(helperHome));
  await page.screenshot({ path: path.join(artifacts, 'firefox-tracker-listing-after-click.png') });
  await page.close();
});
