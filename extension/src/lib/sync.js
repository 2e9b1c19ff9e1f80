// What the background sends its pages: the first message carries the whole reducer state, each
// later one only what changed (torrents whose status object changed, removed hashes, the order
// when it changed). With 2,000 torrents the whole state is ~1 MB of JSON per progress round;
// a round touches the few torrents that moved. Pure (node-tested).

const HEAD = ['helper', 'helperError', 'helperInfo'];

/**
 * The patch from `before` to `after` (two reducer states), or null when nothing a page shows
 * changed. The reducer replaces a torrent's object exactly when its status changed, so identity
 * is the test.
 */
export function diffState(before, after) {
  const patch = {};
  let any = false;
  for (const key of HEAD) {
    if (before[key] !== after[key]) {
      patch[key] = after[key];
      any = true;
    }
  }
  const changed = [];
  for (const hash of after.order) {
    const t = after.torrents[hash];
    if (t && before.torrents[hash] !== t) changed.push(t);
  }
  const removed = before.order.filter((hash) => !after.torrents[hash]);
  if (changed.length) patch.changed = changed;
  if (removed.length) patch.removed = removed;
  if (!sameOrder(before.order, after.order)) patch.order = after.order;
  any = any || changed.length > 0 || removed.length > 0 || patch.order !== undefined;
  return any ? patch : null;
}

function sameOrder(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The patch that carries the whole state (a page's first message). */
export function fullPatch(state) {
  const patch = { full: true, order: state.order, changed: state.order.map((h) => state.torrents[h]).filter(Boolean) };
  for (const key of HEAD) patch[key] = state[key];
  return patch;
}

/**
 * A page's copy of the state with `patch` applied. Returns a new state object; unchanged
 * torrents keep their identity, so views can skip them.
 */
export function applyPatch(state, patch) {
  if (!patch || typeof patch !== 'object') return state;
  const next = patch.full ? { helper: 'unknown', helperError: null, helperInfo: null, torrents: {}, order: [] } : { ...state };
  for (const key of HEAD) if (key in patch) next[key] = patch[key];
  const torrents = patch.full ? {} : { ...state.torrents };
  for (const t of Array.isArray(patch.changed) ? patch.changed : []) {
    if (t && typeof t.info_hash === 'string') torrents[t.info_hash] = t;
  }
  for (const hash of Array.isArray(patch.removed) ? patch.removed : []) delete torrents[hash];
  let order = Array.isArray(patch.order) ? patch.order : state.order || [];
  order = order.filter((h) => torrents[h]);
  next.torrents = torrents;
  next.order = order;
  return next;
}

/** Several patches folded into one (what a page received within one animation frame). */
export function applyPatches(state, patches) {
  let s = state;
  for (const p of patches) s = applyPatch(s, p);
  return s;
}
