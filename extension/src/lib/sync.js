// What the background sends its pages: the first message carries the whole reducer state, each
// later one only what changed (of a torrent that changed, only its changed fields; removed
// hashes; the order when it changed). With 2,000 torrents the whole state is ~1 MB of JSON; a
// progress round carries a rate or two per torrent that moved. Pure (node-tested).

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
  const set = [];
  for (const hash of after.order) {
    const t = after.torrents[hash];
    const old = before.torrents[hash];
    if (!t || old === t) continue;
    const fields = old && fieldsChanged(old, t);
    if (!fields) set.push(t);
    else if (Object.keys(fields).length > 1) changed.push(fields); // a status sent again unchanged costs nothing
  }
  const removed = before.order.filter((hash) => !after.torrents[hash]);
  if (changed.length) patch.changed = changed;
  if (set.length) patch.set = set;
  if (removed.length) patch.removed = removed;
  if (!sameOrder(before.order, after.order)) patch.order = after.order;
  any = any || changed.length > 0 || set.length > 0 || removed.length > 0 || patch.order !== undefined;
  return any ? patch : null;
}

/**
 * `{info_hash, ...the fields of t that differ from old}`, or null when t lost a field (an
 * optional one such as `web_seeds`): then the whole status goes in `set`.
 */
function fieldsChanged(old, t) {
  for (const key of Object.keys(old)) if (!(key in t)) return null;
  const out = { info_hash: t.info_hash };
  for (const key of Object.keys(t)) if (t[key] !== old[key]) out[key] = t[key];
  return out;
}

function sameOrder(a, b) {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The patch that carries the whole state (a page's first message). */
export function fullPatch(state) {
  const patch = { full: true, order: state.order, set: state.order.map((h) => state.torrents[h]).filter(Boolean) };
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
  for (const t of Array.isArray(patch.set) ? patch.set : []) {
    if (t && typeof t.info_hash === 'string') torrents[t.info_hash] = t;
  }
  for (const t of Array.isArray(patch.changed) ? patch.changed : []) {
    if (!t || typeof t.info_hash !== 'string') continue;
    // Changed fields are merged into a new object (views compare identity to skip the rest).
    const old = torrents[t.info_hash];
    torrents[t.info_hash] = old ? { ...old, ...t } : t;
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
