// The confirm queue: torrent links that arrived without a provable user action (lib/consent.js)
// wait here until the user answers on the confirm page. The torrent is fetched and described
// when it arrives, and what the user confirms is exactly those bytes.

import { classifyLink } from './lib/links.js';
import { sourceSite } from './lib/consent.js';
import { PendingConfirmations } from './lib/pending.js';
import { describeTorrent, magnetName } from './lib/metainfo.js';

const CONFIRM_PAGE = 'pages/confirm.html';

function randomId() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Confirmations {
  /**
   * `fetchTorrent(url) -> bytes`, `addLink(url, via, {bytes, confirmed}) -> outcome`,
   * `connectHelper() -> Promise`, `helper() -> {status, settings}`, `report(lastIntercept)`.
   */
  constructor({ fetchTorrent, addLink, connectHelper, helper, report }) {
    Object.assign(this, { fetchTorrent, addLink, connectHelper, helper, report });
    this.pending = new PendingConfirmations({ newId: randomId });
  }

  /**
   * Holds `url` and asks the user about it on the confirm page (opened in a new tab unless
   * `openTab` is false: the navigation path turns its own tab into it). Returns the pending id,
   * or null when too many are waiting.
   */
  async ask(url, via, { referrer = null, openTab = true } = {}) {
    const kind = classifyLink(url) || (/^https?:/i.test(url) ? 'torrent' : null);
    const at = Date.now();
    if (!kind) {
      this.report({ via, url, at, ok: false, code: 'bad_link', error: 'not a torrent link' });
      return null;
    }
    const slot = this.pending.add({ url, via, kind, site: sourceSite(url, referrer), at });
    if (!slot) {
      this.report({ via, url, at, ok: false, code: 'too_many', error: 'too many torrents wait for confirmation' });
      return null;
    }
    this.report({ via, url, at, ok: false, code: 'confirm', pending: slot.id });
    if (!slot.fresh) return slot.id;
    // Fetch and describe before the page asks, so what the user confirms is what gets added.
    const ready = (async () => {
      if (kind === 'magnet') return { summary: { name: magnetName(url), magnet: true } };
      try {
        const bytes = await this.fetchTorrent(url);
        return { bytes, summary: describeTorrent(bytes) };
      } catch (err) {
        return { summary: { error: err.message || String(err) } };
      }
    })();
    this.pending.update(slot.id, { ready });
    if (openTab) chrome.tabs.create({ url: chrome.runtime.getURL(`${CONFIRM_PAGE}#${slot.id}`) }).catch(() => {});
    return slot.id;
  }

  /** What the confirm page shows: only display data, never the torrent's bytes. */
  async describe(id) {
    const entry = this.pending.get(id);
    if (!entry) return null;
    const { summary } = await entry.ready;
    await this.connectHelper().catch(() => {});
    const { status, settings } = this.helper();
    return {
      url: entry.url,
      kind: entry.kind,
      via: entry.via,
      site: entry.site,
      summary,
      saveDir: (settings && settings.download_dir) || null,
      helper: status,
    };
  }

  /** The user said yes: adds what they were shown, once. */
  async confirm(id) {
    const entry = this.pending.take(id);
    if (!entry) return { ok: false, code: 'expired', error: 'this request has expired; open the link again' };
    const { bytes, summary } = await entry.ready;
    if (summary.error) return { ok: false, code: 'fetch', error: summary.error };
    return this.addLink(entry.url, entry.via, { bytes, confirmed: true });
  }

  cancel(id) {
    this.pending.take(id);
  }

  /**
   * A confirm page holds a port while it is open: closing the tab is "no" and frees the slot
   * (otherwise a closed page would keep its place, and its URL from asking again, until expiry).
   */
  watch(port) {
    const ids = new Set();
    port.onMessage.addListener((message) => {
      if (message && message.type === 'watch' && typeof message.id === 'string' && ids.size < 4) ids.add(message.id);
    });
    port.onDisconnect.addListener(() => {
      for (const id of ids) this.pending.take(id);
    });
  }
}
