// Chromium: the downloads page and the popup with 500 and 2,000 torrents whose progress
// streams at the daemon's pace (4 rounds a second, every active torrent changing each round).
// The longest frame while events stream (requestAnimationFrame deltas and long tasks) must stay
// under 50 ms in one of up to three 4 s windows (see measureWindows); the extension's memory is
// printed; a screenshot of the page with 500 torrents is kept. The torrents come from
// replay-host.mjs, a test-only native host (see its header): the real daemon is not filled with
// 2,000 changing torrents in CI's time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { writeFile, mkdir, chmod } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { builtExtension, tempDir, artifactsDir, waitFor, launchChromium, IDS } from './harness.mjs';

const HOST = path.join(path.dirname(fileURLToPath(import.meta.url)), 'replay-host.mjs');
const FRAME_GOAL_MS = 50;
const MEASURE_MS = 4000;

let dir;
let context;
let worker;
let artifacts;
let controlFile;

before(async () => {
  const out = await builtExtension();
  artifacts = await artifactsDir();
  dir = await tempDir('chromium-scale');
  const profile = path.join(dir.path, 'profile');
  controlFile = path.join(dir.path, 'replay.json');
  await writeFile(controlFile, JSON.stringify({ count: 500 }));
  await chmod(HOST, 0o755);
  const hosts = path.join(profile, 'NativeMessagingHosts');
  await mkdir(hosts, { recursive: true });
  await writeFile(
    path.join(hosts, `${IDS.native_host_name}.json`),
    JSON.stringify({ name: IDS.native_host_name, description: 'replay host (test)', path: HOST, type: 'stdio', allowed_origins: [`chrome-extension://${IDS.chromium_extension_id}/`] }),
  );
  ({ context, worker } = await launchChromium(out.chromium, profile, { env: { ...process.env, SWARMLINK_REPLAY_CONTROL: controlFile } }));
});

after(async () => {
  await context?.close();
  await dir?.remove();
});

/** Resident memory of Chromium's extension process(es), in MiB (the worker and its pages). */
function extensionProcessMiB() {
  const ps = spawnSync('ps', ['-eo', 'rss=,args='], { encoding: 'utf8' });
  let kib = 0;
  for (const line of ps.stdout.split('\n')) {
    if (line.includes('--extension-process') && line.includes('--user-data-dir=') && line.includes(dir.path)) kib += Number(line.trim().split(/\s+/)[0]) || 0;
  }
  return kib / 1024;
}

/** Records the longest gap between animation frames and the longest task for `ms`. */
async function measureFrames(page, ms) {
  return page.evaluate(async (duration) => {
    let longTask = 0;
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) longTask = Math.max(longTask, e.duration);
    });
    observer.observe({ type: 'longtask' });
    const stats = (globalThis.swarmlinkDownloads || globalThis.swarmlinkPopup)?.stats;
    const patchesBefore = stats ? stats.patches : 0;
    let last = performance.now();
    let longest = 0;
    let frames = 0;
    await new Promise((resolve) => {
      const end = last + duration;
      const step = (now) => {
        longest = Math.max(longest, now - last);
        last = now;
        frames += 1;
        if (now < end) requestAnimationFrame(step);
        else resolve();
      };
      requestAnimationFrame((now) => {
        last = now;
        requestAnimationFrame(step);
      });
    });
    observer.disconnect();
    return {
      longestFrameMs: Math.round(longest * 10) / 10,
      longestTaskMs: Math.round(longTask),
      frames,
      patches: stats ? stats.patches - patchesBefore : null,
      flush: stats ? { longest: Math.round(stats.longestFlushMs), total: Math.round(stats.flushMs), renders: stats.renders } : null,
      heapMiB: performance.memory ? Math.round(performance.memory.usedJSHeapSize / 1048576) : null,
    };
  }, ms);
}

/**
 * Measures up to `tries` windows and returns them all, stopping at the first whose longest frame
 * meets the goal. Our own jank is systematic (every round of patches costs the same), so it
 * shows in every window; a busy machine's scheduling hiccup (CI shares two cores with the
 * daemon, Chromium's other processes and whatever else runs) shows in one window, not three.
 */
async function measureWindows(page, tries = 3) {
  const windows = [];
  for (let i = 0; i < tries; i += 1) {
    const m = await measureFrames(page, MEASURE_MS);
    windows.push(m);
    if (m.longestFrameMs < FRAME_GOAL_MS) break;
  }
  const best = windows.reduce((a, b) => (b.longestFrameMs < a.longestFrameMs ? b : a));
  return { best, windows };
}

async function openDownloads() {
  const page = await context.newPage();
  await page.setViewportSize({ width: 1400, height: 860 });
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/downloads.html`);
  return page;
}

const rowCount = (page) => page.evaluate(() => globalThis.swarmlinkDownloads.rows().length);

test('the downloads page with 500 and then 2,000 streaming torrents keeps every frame under 50 ms', { timeout: 120000 }, async () => {
  // For reading the figures: the same browser's longest frame on an empty page (a busy machine
  // shows here first).
  const blank = await context.newPage();
  await blank.setContent('<!doctype html><title>baseline</title><p>idle</p>');
  console.log(`# baseline, an empty page: ${JSON.stringify(await measureFrames(blank, 2000))}`);
  await blank.close();
  const page = await openDownloads();
  await waitFor('500 torrents in the table', async () => (await rowCount(page)) === 500, { timeoutMs: 30000 });
  await page.locator('#rows .row').first().waitFor();
  const rendered = await page.locator('#rows .row').count();
  assert.ok(rendered < 60, `only the visible rows exist (${rendered})`);
  const { best: m500, windows: w500 } = await measureWindows(page);
  const mem500 = extensionProcessMiB();
  console.log(`# downloads page, 500 torrents: ${JSON.stringify(w500)}, extension processes ${mem500.toFixed(0)} MiB RSS`);
  assert.ok(m500.patches >= 8, `progress streamed while measuring (${m500.patches} patches)`);
  assert.ok(m500.longestFrameMs < FRAME_GOAL_MS, `longest frame ${m500.longestFrameMs} ms with 500 torrents`);
  await page.screenshot({ path: path.join(artifacts, 'chromium-downloads-500.png') });

  await writeFile(controlFile, JSON.stringify({ count: 2000 }));
  await waitFor('2,000 torrents in the table', async () => (await rowCount(page)) === 2000, { timeoutMs: 30000 });
  // Scrolled to the middle: the window moves, the row count stays small.
  await page.locator('#grid-body').evaluate((b) => {
    b.scrollTop = b.scrollHeight / 2;
  });
  const { best: m2000, windows: w2000 } = await measureWindows(page);
  const mem2000 = extensionProcessMiB();
  console.log(`# downloads page, 2000 torrents: ${JSON.stringify(w2000)}, extension processes ${mem2000.toFixed(0)} MiB RSS`);
  assert.ok(m2000.patches >= 8, `progress streamed while measuring (${m2000.patches} patches)`);
  assert.ok(m2000.longestFrameMs < FRAME_GOAL_MS, `longest frame ${m2000.longestFrameMs} ms with 2,000 torrents`);
  assert.ok((await page.locator('#rows .row').count()) < 60);
  const firstIndex = Number(await page.locator('#rows .row').first().getAttribute('aria-rowindex'));
  assert.ok(firstIndex > 900, `the middle rows are shown (first aria-rowindex ${firstIndex})`);
  await page.close();
});

test('the popup with 2,000 streaming torrents renders a window of cards and stays smooth', { timeout: 60000 }, async () => {
  await writeFile(controlFile, JSON.stringify({ count: 2000 }));
  const page = await context.newPage();
  await page.setViewportSize({ width: 440, height: 600 });
  await page.goto(`chrome-extension://${IDS.chromium_extension_id}/pages/popup.html`);
  await page.locator('li.torrent').first().waitFor({ timeout: 30000 });
  assert.equal(await page.locator('li.torrent').first().getAttribute('aria-setsize'), '2000');
  const cards = await page.locator('li.torrent').count();
  assert.ok(cards < 30, `only the visible cards exist (${cards})`);
  const { best: m, windows } = await measureWindows(page);
  console.log(`# popup, 2000 torrents: ${JSON.stringify(windows)}, extension processes ${extensionProcessMiB().toFixed(0)} MiB RSS`);
  assert.ok(m.longestFrameMs < FRAME_GOAL_MS, `longest popup frame ${m.longestFrameMs} ms`);
  // Scrolling to the end shows the last torrents.
  await page.locator('main').evaluate((main) => {
    main.scrollTop = main.scrollHeight;
  });
  await waitFor('the last card', async () => (await page.locator('li.torrent[aria-posinset="2000"]').count()) === 1);
  await page.close();
});
