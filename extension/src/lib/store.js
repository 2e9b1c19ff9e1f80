// The background's picture of the helper and its torrents, as a pure reducer:
// `reduce(state, action) -> state`. The popup renders snapshots of it; the badge and the
// notifications are derived from it. Nothing here touches a browser API, so node tests it.

import { displayText } from './text.js';

/** helper: "unknown" (not tried yet) | "connecting" | "ready" | "missing" | "broken". */
export function initialState() {
  return { helper: 'unknown', helperError: null, helperInfo: null, torrents: {}, order: [], snapshotSeen: null };
}

const STATES = new Set([
  'checking',
  'allocating',
  'connecting',
  'downloading',
  'seeding',
  'paused',
  'queued',
  'awaiting_selection',
  'error',
]);

/** A TorrentStatus from the helper, with every field present and of the right type. */
export function normalizeStatus(raw) {
  if (!raw || typeof raw !== 'object' || typeof raw.info_hash !== 'string' || !raw.info_hash) {
    return null;
  }
  const num = (v) => (Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : 0);
  const progress = Math.min(1, Math.max(0, Number(raw.progress) || 0));
  return {
    info_hash: raw.info_hash.toLowerCase(),
    name: typeof raw.name === 'string' && raw.name ? raw.name : raw.info_hash,
    state: STATES.has(raw.state) ? raw.state : 'error',
    progress,
    total_bytes: num(raw.total_bytes),
    have_bytes: num(raw.have_bytes),
    downloaded: num(raw.downloaded),
    uploaded: num(raw.uploaded),
    down_rate: num(raw.down_rate),
    up_rate: num(raw.up_rate),
    peers: num(raw.peers),
    seeds: num(raw.seeds),
    eta_secs:
      raw.eta_secs === null || raw.eta_secs === undefined || !Number.isFinite(Number(raw.eta_secs))
        ? null
        : Number(raw.eta_secs),
    error: typeof raw.error === 'string' && raw.error ? raw.error : null,
    save_path: typeof raw.save_path === 'string' ? raw.save_path : '',
    // Optional fields the downloads page shows; absent when the helper does not send them.
    ...(Array.isArray(raw.web_seeds) ? { web_seeds: raw.web_seeds.slice(0, 100) } : {}),
    ...(Number.isFinite(raw.added_at) ? { added_at: raw.added_at } : {}),
    ...(Number.isInteger(raw.queue_position) ? { queue_position: raw.queue_position } : {}),
    // Always present (null when no move is under way), so a move's end reaches the pages.
    moving: normalizeMove(raw.moving),
  };
}

/** A move under way (`{to, done_bytes, total_bytes}`), or null. */
function normalizeMove(raw) {
  if (!raw || typeof raw !== 'object' || typeof raw.to !== 'string') return null;
  const num = (v) => (Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : 0);
  const total = num(raw.total_bytes);
  return { to: raw.to, done_bytes: Math.min(total, num(raw.done_bytes)), total_bytes: total };
}

// Linear in the list: with 2,000 torrents a progress round must not cost 2,000 x 2,000.
function upsert(state, statuses, { replace = false } = {}) {
  const torrents = replace ? {} : { ...state.torrents };
  const fresh = [];
  for (const raw of statuses) {
    const t = normalizeStatus(raw);
    if (!t) continue;
    if (!torrents[t.info_hash]) fresh.push(t.info_hash);
    torrents[t.info_hash] = t;
  }
  // New torrents go first, the latest first (as one unshift each would put them).
  const order = fresh.length ? [...fresh.reverse(), ...(replace ? [] : state.order)] : state.order;
  return { ...state, torrents, order: order.filter((h) => torrents[h]) };
}

/**
 * Actions:
 * - `{type: "helper", status, error?, version?}` the native port's fate
 * - `{type: "list", torrents}` a full list (reply to `list`): replaces everything
 * - `{type: "event", message}` a helper event: progress | added | completed | removed | error
 */
export function reduce(state, action) {
  switch (action && action.type) {
    case 'helper': {
      const next = { ...state, helper: action.status, helperError: action.error || null };
      // `info` is the helper's hello reply (version, protocol, pid, ...), kept while connected.
      if (action.info !== undefined) next.helperInfo = action.info;
      return next;
    }
    case 'list':
      return upsert(state, Array.isArray(action.torrents) ? action.torrents : [], {
        replace: true,
      });
    case 'event':
      return reduceEvent(state, action.message || {});
    default:
      return state;
  }
}

function statusesOf(message) {
  if (Array.isArray(message.torrents)) return message.torrents;
  if (message.torrent && typeof message.torrent === 'object') return [message.torrent];
  return [];
}

/**
 * A `full` progress event is a complete snapshot, possibly split into `parts` frames: torrents
 * missing from it once its last part arrived are gone (helper/PROTOCOL.md).
 */
function reduceSnapshot(state, message) {
  const statuses = statusesOf(message);
  const part = Number.isInteger(message.part) ? message.part : 1;
  const parts = Number.isInteger(message.parts) ? message.parts : 1;
  const seen = new Set(part <= 1 ? [] : state.snapshotSeen || []);
  for (const raw of statuses) {
    const t = normalizeStatus(raw);
    if (t) seen.add(t.info_hash);
  }
  const next = upsert(state, statuses);
  if (part < parts) return { ...next, snapshotSeen: [...seen] };
  const torrents = {};
  for (const hash of Object.keys(next.torrents)) if (seen.has(hash)) torrents[hash] = next.torrents[hash];
  return { ...next, torrents, order: next.order.filter((h) => seen.has(h)), snapshotSeen: null };
}

function reduceEvent(state, message) {
  switch (message.event) {
    case 'progress':
      return message.full ? reduceSnapshot(state, message) : upsert(state, statusesOf(message));
    case 'added':
      return upsert(state, statusesOf(message));
    case 'completed': {
      // The helper's `completed` names the torrent; the next progress event has the rest.
      const statuses = statusesOf(message);
      if (statuses.length) return upsert(state, statuses);
      const hash = typeof message.info_hash === 'string' ? message.info_hash.toLowerCase() : null;
      const known = hash && state.torrents[hash];
      if (!known) return state;
      const t = {
        ...known,
        progress: 1,
        have_bytes: known.total_bytes,
        eta_secs: null,
        state: known.state === 'paused' ? 'paused' : 'seeding',
      };
      return { ...state, torrents: { ...state.torrents, [hash]: t } };
    }
    case 'error': {
      const statuses = statusesOf(message);
      if (statuses.length) return upsert(state, statuses);
      const hash = typeof message.info_hash === 'string' ? message.info_hash.toLowerCase() : null;
      if (!hash || !state.torrents[hash]) return state;
      const t = { ...state.torrents[hash], state: 'error', error: String(message.message || 'error') };
      return { ...state, torrents: { ...state.torrents, [hash]: t } };
    }
    case 'removed': {
      const hash = typeof message.info_hash === 'string' ? message.info_hash.toLowerCase() : null;
      if (!hash || !state.torrents[hash]) return state;
      const torrents = { ...state.torrents };
      delete torrents[hash];
      return { ...state, torrents, order: state.order.filter((h) => h !== hash) };
    }
    default:
      return state;
  }
}

/** The torrents in display order (newest first). */
export function torrentList(state) {
  return state.order.map((h) => state.torrents[h]).filter(Boolean);
}

const ACTIVE = new Set(['checking', 'allocating', 'connecting', 'downloading', 'queued']);

/** Downloads still in progress: what the badge counts and what keeps the helper port open. */
export function activeCount(state) {
  return torrentList(state).filter((t) => ACTIVE.has(t.state)).length;
}

/** Sum of every torrent's rates, for the popup's header. */
export function totals(state) {
  let down = 0;
  let up = 0;
  for (const t of torrentList(state)) {
    down += t.down_rate;
    up += t.up_rate;
  }
  return { down, up };
}

/** The badge text: the number of active downloads, or "!" when the helper is unusable. */
export function badgeText(state) {
  if (state.helper === 'missing' || state.helper === 'broken') return '!';
  const n = activeCount(state);
  return n ? String(n) : '';
}

/**
 * The notification a helper event deserves, or null: `completed` fires exactly once per
 * download (helper/PROTOCOL.md), so it is the signal, not a state change we happened to see.
 * `state` is the state before the event (for the name when the event lacks it).
 */
export function notificationFor(state, message) {
  if (!message || typeof message.info_hash !== 'string') return null;
  const hash = message.info_hash.toLowerCase();
  const known = state.torrents[hash];
  const name = (typeof message.name === 'string' && message.name) || (known && known.name) || hash;
  // The system shows notifications outside our pages: names are neutralised here (lib/text.js).
  if (message.event === 'completed') {
    return { id: `swarmlink-completed-${hash}`, title: 'Download complete', message: displayText(name, 200) };
  }
  if (message.event === 'error') {
    const why = typeof message.message === 'string' && message.message ? message.message : 'error';
    return { id: `swarmlink-failed-${hash}`, title: 'Download failed', message: displayText(`${name}: ${why}`, 300) };
  }
  return null;
}
