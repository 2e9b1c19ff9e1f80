// The downloads page's table as data: which columns exist, how each sorts, what the search box
// and the state filter keep. Pure (node-tested); the page renders what these return.

/** Column keys in display order. `added` is the helper's `added_at` (seconds), else list order. */
export const COLUMNS = ['name', 'state', 'size', 'progress', 'down_rate', 'up_rate', 'eta', 'ratio', 'added'];

/** The state filter's choices: a group of helper states each. */
export const STATE_FILTERS = {
  all: null,
  active: ['checking', 'allocating', 'connecting', 'downloading'],
  downloading: ['downloading', 'connecting'],
  seeding: ['seeding'],
  paused: ['paused'],
  queued: ['queued'],
  error: ['error'],
};

/** Uploaded over size (what a seeding goal counts); null before there is anything to divide by. */
export function ratioOf(t) {
  const size = t.total_bytes || t.have_bytes;
  if (!size) return null;
  return t.uploaded / size;
}

/** Seconds left, or null: only a downloading torrent with a known rate has an ETA. */
export function etaOf(t) {
  return t.state === 'downloading' && Number.isFinite(t.eta_secs) ? t.eta_secs : null;
}

// The order states sort in: what needs attention first.
const STATE_RANK = { error: 0, awaiting_selection: 1, downloading: 2, connecting: 3, checking: 4, allocating: 5, queued: 6, seeding: 7, paused: 8 };

/** The value a column sorts by; null sorts last in either direction. */
export function sortValue(t, key, index = 0) {
  switch (key) {
    case 'name':
      return t.name.toLowerCase();
    case 'state':
      return STATE_RANK[t.state] ?? 9;
    case 'size':
      return t.total_bytes;
    case 'progress':
      return t.progress;
    case 'down_rate':
      return t.down_rate;
    case 'up_rate':
      return t.up_rate;
    case 'eta':
      return etaOf(t);
    case 'ratio':
      return ratioOf(t);
    case 'added':
      // The store's order is newest first; `index` is the position in it.
      return Number.isFinite(t.added_at) ? t.added_at : -index;
    default:
      return null;
  }
}

/**
 * `torrents` sorted by `key` (`dir` "asc" | "desc"); ties keep the store's order (newest first),
 * so rows do not swap places between two updates with equal values. Returns a new array.
 */
export function sortTorrents(torrents, { key = 'added', dir = 'desc' } = {}) {
  const sign = dir === 'asc' ? 1 : -1;
  const keyed = torrents.map((t, index) => ({ t, index, v: sortValue(t, key, index) }));
  keyed.sort((a, b) => {
    const an = a.v === null || a.v === undefined;
    const bn = b.v === null || b.v === undefined;
    if (an || bn) return an === bn ? a.index - b.index : an ? 1 : -1;
    if (a.v < b.v) return -sign;
    if (a.v > b.v) return sign;
    return a.index - b.index;
  });
  return keyed.map((k) => k.t);
}

/** Lower-cased words of a search box; a torrent matches when its name or hash has every word. */
export function searchWords(query) {
  return String(query || '')
    .toLowerCase()
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 16);
}

/** The torrents the state filter and the search box keep, in the order given. */
export function filterTorrents(torrents, { state = 'all', query = '' } = {}) {
  const states = STATE_FILTERS[state] || null;
  const words = searchWords(query);
  return torrents.filter((t) => {
    if (states && !states.includes(t.state)) return false;
    if (!words.length) return true;
    const hay = `${t.name.toLowerCase()} ${t.info_hash}`;
    return words.every((w) => hay.includes(w));
  });
}

/** How many torrents each state filter would keep, for the filter's labels. */
export function filterCounts(torrents) {
  const counts = Object.fromEntries(Object.keys(STATE_FILTERS).map((k) => [k, 0]));
  const byState = {};
  for (const t of torrents) byState[t.state] = (byState[t.state] || 0) + 1;
  counts.all = torrents.length;
  for (const [name, states] of Object.entries(STATE_FILTERS)) {
    if (states) for (const s of states) counts[name] += byState[s] || 0;
  }
  return counts;
}

/** The rows to show: filtered, then sorted. */
export function tableRows(torrents, view) {
  return sortTorrents(filterTorrents(torrents, view), view);
}
