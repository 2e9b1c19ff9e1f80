// The installed package, as a user gets it: `dpkg -i swarmlink_*.deb` registered
// /usr/bin/bthelper as the native host system-wide (/etc/chromium/native-messaging-hosts),
// and nobody ran `bthelper install`. A fresh Chromium profile with no NativeMessagingHosts
// of its own clicks a file on the tracker's listing page, and the download reaches 100%.
// Run by scripts/test.d/70-package.sh after it installed the packages (it needs root);
// not part of the e2e/ directory the browser stage runs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { mkdir, readFile, realpath } from 'node:fs/promises';
import { spawnSync } from 'node:child_process';
import { builtExtension, tempDir, waitFor, launchChromium, stopPid, IDS } from '../e2e/harness.mjs';
import { startSwarm, randomFile, sha256Of, findFile, exists } from '../e2e/swarm.mjs';

const SYSTEM_MANIFEST = `/etc/chromium/native-messaging-hosts/${IDS.native_host_name}.json`;
// The installed binaries, not the workspace's: this is what the packages put on the machine.
const bins = { bttrack: '/usr/bin/bttrack', btpublish: '/usr/bin/btpublish', bthelper: '/usr/bin/bthelper' };
const skip = process.env.SWARMLINK_SYSTEM_HOST === '1' ? false : 'set SWARMLINK_SYSTEM_HOST=1 after installing the package';

let dir;
let swarm;
let context;
let worker;
let profile;
let helperHome;
let movie;

before(async () => {
  if (skip) return;
  const out = await builtExtension();
  dir = await tempDir('system-host');
  const source = path.join(dir.path, 'published');
  await mkdir(source);
  movie = await randomFile(source, 'movie.bin', 2 * 1024 * 1024 + 321);
  swarm = await startSwarm(bins, dir.path, [movie.file]);
  helperHome = path.join(dir.path, 'swarmlink');
  profile = path.join(dir.path, 'profile');
  ({ context, worker } = await launchChromium(out.chromium, profile, {
    env: { ...process.env, SWARMLINK_HOME: helperHome },
  }));
});

after(async () => {
  const pid = await worker?.evaluate(() => globalThis.swarmlinkDebug().state.helperInfo?.pid).catch(() => null);
  await context?.close();
  stopPid(pid);
  swarm?.stop();
  await dir?.remove();
});

test('the package registered the host system-wide, pointing at /usr/bin/bthelper', { skip }, async () => {
  const manifest = JSON.parse(await readFile(SYSTEM_MANIFEST, 'utf8'));
  assert.equal(manifest.path, '/usr/bin/bthelper');
  assert.deepEqual(manifest.allowed_origins, [`chrome-extension://${IDS.chromium_extension_id}/`]);
  assert.equal(await realpath(SYSTEM_MANIFEST), `/usr/share/swarmlink/native-messaging-hosts/chromium/${IDS.native_host_name}.json`);
  // Chromium may make the profile's directory, empty: no manifest of ours is in it.
  assert.equal(await exists(path.join(profile, 'NativeMessagingHosts', `${IDS.native_host_name}.json`)), false, 'the profile has no host of its own');
  const doctor = spawnSync(bins.bthelper, ['doctor', '--browser', 'chromium', '--system'], { encoding: 'utf8' });
  assert.match(`${doctor.stdout}${doctor.stderr}`, /native-messaging-hosts/);
});

test('click on the tracker listing -> the system-installed helper downloads it', { skip, timeout: 180000 }, async () => {
  const page = await context.newPage();
  await page.goto(`${swarm.origin}/`);
  await page.locator('a', { hasText: 'movie.bin' }).first().click();
  const popup = await context.newPage();
  await popup.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/popup.html`);
  const card = popup.locator('li.torrent', { has: popup.locator('.name', { hasText: 'movie.bin' }) });
  await waitFor('movie.bin to reach 100%', async () => {
    if (!(await card.count())) return false;
    return (await card.locator('.percent').textContent()) === '100%';
  }, { timeoutMs: 120000, intervalMs: 250 }).catch((err) => {
    throw new Error(`${err.message}\n--- logs:\n${swarm.logs()}`);
  });
  const got = await waitFor('movie.bin on disk', () => findFile(helperHome, 'movie.bin'));
  assert.equal(await sha256Of(got), movie.sha256, 'the bytes match');
  const info = await worker.evaluate(() => globalThis.swarmlinkDebug().state.helperInfo);
  assert.ok(info?.pid, `the extension reached the helper: ${JSON.stringify(info)}`);
});
