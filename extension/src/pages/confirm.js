// The confirm page: every torrent that did not come from a provable user action waits here
// (lib/consent.js). It shows what would be downloaded, where, and from which site. It is not
// web-accessible, so no site can open or frame it; its Download button is never focused for
// the user and becomes usable only after the page has been visible for a moment, so a site
// cannot have the user's typing or double-click land on it (keyjacking, clickjacking).

import { displayText } from '../lib/text.js';
import { formatBytes } from '../lib/format.js';

export const ARM_DELAY_MS = 1000;

const id = location.hash.replace(/^#/, '');
const ask = document.getElementById('ask');
const result = document.getElementById('result');
const confirmButton = document.getElementById('confirm');
const show = (elementId, text) => {
  document.getElementById(elementId).textContent = displayText(text);
};

const WHY = {
  click: 'A link in a frame or a hidden link on a page was clicked.',
  download: 'A page started downloading a torrent.',
  navigation: 'A page opened a torrent link.',
};

// The button arms after ARM_DELAY_MS of the page being visible, and disarms whenever the page is
// hidden (another tab in front), so it always needs a fresh look before it can be used.
let armTimer = null;
let busy = false;
function arm() {
  confirmButton.disabled = true;
  if (armTimer) clearTimeout(armTimer);
  armTimer = null;
  if (document.visibilityState !== 'visible' || busy) return;
  armTimer = setTimeout(() => {
    confirmButton.disabled = false;
  }, ARM_DELAY_MS);
}

async function main() {
  if (window.top !== window) {
    result.textContent = 'Swarmlink does not run inside frames.';
    return;
  }
  const info = id ? await chrome.runtime.sendMessage({ type: 'pending', id }) : null;
  if (!info) {
    result.textContent = 'Nothing is waiting for confirmation here (it may have expired). Open the link again.';
    return;
  }
  // Open while this page is: closing the tab answers "no" (background.js watchConfirmPage).
  chrome.runtime.connect({ name: 'confirm' }).postMessage({ type: 'watch', id });
  document.getElementById('why').textContent = WHY[info.via] || 'A page asked Swarmlink to download a torrent.';
  const s = info.summary || {};
  if (info.kind === 'magnet') {
    show('name', s.name || '(the magnet link names none)');
    show('size', 'magnet link, metadata not yet known');
    show('files', 'magnet link, metadata not yet known');
  } else if (s.error) {
    show('name', '—');
    show('size', '—');
    show('files', '—');
  } else {
    show('name', s.name);
    show('size', formatBytes(s.totalBytes));
    show('files', String(s.fileCount));
  }
  show('save-dir', info.saveDir || 'the helper’s download folder (the helper is not connected)');
  show('site', info.site || 'unknown');
  show('torrent-url', info.url);
  ask.hidden = false;
  if (s.error) {
    result.dataset.kind = 'error';
    result.textContent = `Swarmlink cannot download this: ${displayText(s.error)}`;
    return;
  }
  document.addEventListener('visibilitychange', arm);
  arm();
  confirmButton.addEventListener('click', async () => {
    if (confirmButton.disabled) return;
    busy = true;
    confirmButton.disabled = true;
    result.dataset.kind = 'pending';
    result.textContent = 'Sending to Swarmlink…';
    const outcome = await chrome.runtime.sendMessage({ type: 'confirm', id });
    if (outcome && outcome.ok) {
      ask.hidden = true;
      result.dataset.kind = 'ok';
      const name = outcome.result && outcome.result.name;
      result.textContent = `${name ? `“${displayText(name)}”` : 'The torrent'} is downloading. Follow it from the Swarmlink toolbar button.`;
    } else {
      const missing = outcome && (outcome.helper === 'missing' || outcome.code === 'missing');
      result.dataset.kind = missing ? 'missing' : 'error';
      result.textContent = missing
        ? 'Swarmlink’s helper app is not installed. Open the Swarmlink toolbar button for the setup steps.'
        : `Swarmlink could not add it: ${displayText((outcome && outcome.error) || 'unknown error')}`;
    }
  });
  document.getElementById('cancel').addEventListener('click', () => {
    chrome.runtime.sendMessage({ type: 'cancel', id }).catch(() => {});
    ask.hidden = true;
    result.dataset.kind = 'ok';
    result.textContent = 'Cancelled: nothing was downloaded. You can close this tab.';
    window.close();
  });
}

main();
