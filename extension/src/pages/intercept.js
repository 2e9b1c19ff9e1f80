// The target of the declarativeNetRequest redirect for top-level *.torrent navigations. A
// redirect target must be web-accessible, so any site can navigate here (or try to frame it):
// this page only hands the link to the background and turns itself into the confirm page,
// which is not web-accessible, so no site can open or frame that one.

import { urlFromInterceptHash } from '../lib/links.js';

const result = document.getElementById('result');
const url = urlFromInterceptHash(location.hash);

if (window.top !== window) {
  result.textContent = 'Swarmlink does not run inside frames.';
} else if (!url) {
  result.textContent = 'There is no torrent link to download.';
} else {
  result.textContent = 'Opening…';
  const reply = await chrome.runtime.sendMessage({ type: 'navigation', url, referrer: document.referrer || null });
  if (reply && reply.id) {
    location.replace(chrome.runtime.getURL(`pages/confirm.html#${reply.id}`));
  } else {
    result.dataset.kind = 'error';
    result.textContent = 'Too many downloads are waiting for confirmation. Answer those first.';
  }
}
