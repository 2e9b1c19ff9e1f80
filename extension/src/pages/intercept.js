// The target of the declarativeNetRequest redirect for top-level *.torrent navigations.
// It asks before adding: the page is web-accessible (redirects need that), so any site could
// navigate here by script, and a torrent must never start without the user's say-so.

import { urlFromInterceptHash } from '../lib/links.js';

const url = urlFromInterceptHash(location.hash);
const ask = document.getElementById('ask');
const result = document.getElementById('result');

if (window.top !== window) {
  result.textContent = 'Swarmlink does not run inside frames.';
} else if (!url) {
  result.textContent = 'There is no torrent link to download.';
} else {
  document.getElementById('torrent-url').textContent = url;
  ask.hidden = false;
  const confirm = document.getElementById('confirm');
  confirm.focus();
  confirm.addEventListener('click', async () => {
    confirm.disabled = true;
    result.dataset.kind = 'pending';
    result.textContent = 'Sending to Swarmlink…';
    const outcome = await chrome.runtime.sendMessage({ type: 'intercept', url, via: 'navigation' });
    if (outcome && outcome.ok) {
      ask.hidden = true;
      result.dataset.kind = 'ok';
      const name = outcome.result && outcome.result.name;
      result.textContent = `${name ? `“${name}”` : 'The torrent'} is downloading. Follow it from the Swarmlink toolbar button.`;
    } else {
      confirm.disabled = false;
      const missing = outcome && (outcome.helper === 'missing' || outcome.code === 'missing');
      result.dataset.kind = missing ? 'missing' : 'error';
      result.textContent = missing
        ? 'Swarmlink’s helper app is not installed. Open the Swarmlink toolbar button for the setup steps.'
        : `Swarmlink could not add it: ${(outcome && outcome.error) || 'unknown error'}`;
    }
  });
  document.getElementById('cancel').addEventListener('click', () => history.back());
}
