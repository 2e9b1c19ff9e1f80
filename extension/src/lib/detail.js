// The downloads page's detail pane as data: the helper's answers to `files`, `peers`,
// `trackers` and `pieces` checked and shaped for display (a file tree with folder totals,
// bounded lists, a piece map of a fixed number of cells). Pure (node-tested). The helper may
// be an attacker's or simply older: every field is checked, every list capped.

const MAX_FILES = 20000;
const MAX_PEERS = 1000;
const MAX_TRACKERS = 200;
const MAX_PIECES = 1 << 24; // a 16M-piece torrent is 256 TiB at 16 KiB pieces: nonsense beyond
export const PRIORITIES = ['skip', 'low', 'normal', 'high'];

const num = (v) => (Number.isFinite(Number(v)) && Number(v) >= 0 ? Number(v) : 0);
const str = (v) => (typeof v === 'string' ? v : '');
const timeOrNull = (v) => (Number.isFinite(Number(v)) && v !== null && v !== '' && Number(v) >= 0 ? Number(v) : null);

/** One file of the `files` answer, or null. */
function normalizeFile(raw) {
  if (!raw || typeof raw !== 'object' || !Number.isInteger(raw.index) || raw.index < 0) return null;
  const length = num(raw.length);
  const have = Math.min(length, num(raw.have_bytes));
  return {
    index: raw.index,
    path: str(raw.path) || `#${raw.index}`,
    length,
    have_bytes: have,
    progress: length ? have / length : Math.min(1, num(raw.progress)),
    priority: PRIORITIES.includes(raw.priority) ? raw.priority : 'normal',
  };
}

/**
 * The files of a torrent as a tree: `{name, path, length, have_bytes, files: count,
 * children: [...folders, ...files]}`; a file node has `file` (the normalized entry). Folder
 * totals add up their files; a folder's `priority` is its files' one if they agree, else "mixed".
 */
export function fileTree(rawFiles) {
  const files = (Array.isArray(rawFiles) ? rawFiles.slice(0, MAX_FILES) : []).map(normalizeFile).filter(Boolean);
  const root = folder('', '');
  for (const f of files) {
    const parts = f.path.split('/').filter((p) => p !== '');
    let at = root;
    for (const name of parts.slice(0, -1)) {
      let next = at.folders.get(name);
      if (!next) {
        next = folder(name, at.path ? `${at.path}/${name}` : name);
        at.folders.set(name, next);
      }
      at = next;
    }
    at.fileNodes.push({ name: parts[parts.length - 1] || f.path, path: f.path, file: f, length: f.length, have_bytes: f.have_bytes });
  }
  return finish(root);
}

function folder(name, path) {
  return { name, path, folders: new Map(), fileNodes: [] };
}

function finish(node) {
  const folders = [...node.folders.values()].map(finish).sort((a, b) => a.name.localeCompare(b.name));
  const files = node.fileNodes.sort((a, b) => a.name.localeCompare(b.name));
  const children = [...folders, ...files];
  let length = 0;
  let have = 0;
  let count = 0;
  const priorities = new Set();
  for (const c of children) {
    length += c.length;
    have += c.have_bytes;
    count += c.file ? 1 : c.files;
    priorities.add(c.file ? c.file.priority : c.priority);
  }
  return {
    name: node.name,
    path: node.path,
    length,
    have_bytes: have,
    files: count,
    priority: priorities.size === 1 ? [...priorities][0] : 'mixed',
    indices: children.flatMap((c) => (c.file ? [c.file.index] : c.indices)),
    children,
  };
}

/** The tree as rows to render, depth-first, skipping the children of collapsed folders. */
export function treeRows(tree, collapsed = new Set(), depth = 0, out = []) {
  for (const c of tree.children) {
    out.push({ node: c, depth, folder: !c.file });
    if (!c.file && !collapsed.has(c.path)) treeRows(c, collapsed, depth + 1, out);
  }
  return out;
}

/**
 * `peers` answer → rows: `{addr, client, flags: [...words], down_rate, up_rate, progress}`.
 * Proposed shape (extension/README.md "The downloads page"); the helper does not send it yet.
 */
export function normalizePeers(answer) {
  const list = answer && Array.isArray(answer.peers) ? answer.peers.slice(0, MAX_PEERS) : [];
  return list
    .filter((p) => p && typeof p === 'object' && typeof p.addr === 'string')
    .map((p) => ({
      addr: p.addr.slice(0, 64),
      client: str(p.client).slice(0, 80),
      flags: Array.isArray(p.flags) ? p.flags.filter((f) => typeof f === 'string').slice(0, 12) : [],
      down_rate: num(p.down_rate),
      up_rate: num(p.up_rate),
      progress: Math.min(1, num(p.progress)),
    }));
}

const TRACKER_STATUS = new Set(['working', 'updating', 'not_contacted', 'error', 'disabled']);

/** `trackers` answer → rows (proposed shape, as for peers). Times are Unix seconds or null. */
export function normalizeTrackers(answer) {
  const list = answer && Array.isArray(answer.trackers) ? answer.trackers.slice(0, MAX_TRACKERS) : [];
  return list
    .filter((t) => t && typeof t === 'object' && typeof t.url === 'string')
    .map((t) => ({
      url: t.url.slice(0, 2048),
      tier: Number.isInteger(t.tier) && t.tier >= 0 ? t.tier : 0,
      status: TRACKER_STATUS.has(t.status) ? t.status : 'not_contacted',
      message: str(t.message).slice(0, 500),
      last_announce: timeOrNull(t.last_announce),
      next_announce: timeOrNull(t.next_announce),
      seeds: t.seeds === null || t.seeds === undefined ? null : num(t.seeds),
      peers: t.peers === null || t.peers === undefined ? null : num(t.peers),
    }));
}

/** Web seeds from a TorrentStatus (`web_seeds`, helper/PROTOCOL.md), bounded. */
export function normalizeWebSeeds(status) {
  const list = status && Array.isArray(status.web_seeds) ? status.web_seeds.slice(0, 100) : [];
  return list
    .filter((w) => w && typeof w === 'object' && typeof w.url === 'string')
    .map((w) => ({
      url: w.url.slice(0, 2048),
      state: str(w.state) || 'idle',
      down_rate: num(w.down_rate),
      downloaded: num(w.downloaded),
      error: typeof w.error === 'string' && w.error ? w.error.slice(0, 500) : null,
    }));
}

/** Decodes standard base64 into bytes (no atob in older node test runners needed). */
function base64Bytes(text) {
  if (typeof text !== 'string' || text.length > 4 * 1024 * 1024 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  const bin = atob(text);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return bytes;
}

/**
 * `pieces` answer (`{piece_count, have_b64}`: the BEP 3 bitfield, high bit of the first byte
 * is piece 0) → `{count, have, cells}` where `cells` is `cellCount` fractions 0..1, each the
 * share of its run of pieces that is verified. Null when the answer does not add up.
 */
export function pieceMap(answer, cellCount = 256) {
  const count = answer && Number.isInteger(answer.piece_count) ? answer.piece_count : -1;
  if (count < 0 || count > MAX_PIECES) return null;
  const bits = base64Bytes(answer.have_b64);
  if (!bits || bits.length !== Math.ceil(count / 8)) return null;
  const n = Math.max(1, Math.min(cellCount, count || 1));
  const cells = new Array(n).fill(0);
  let have = 0;
  for (let c = 0; c < n; c++) {
    const from = Math.floor((c * count) / n);
    const to = Math.floor(((c + 1) * count) / n);
    let got = 0;
    for (let i = from; i < to; i++) if (bits[i >> 3] & (0x80 >> (i & 7))) got += 1;
    have += got;
    cells[c] = to > from ? got / (to - from) : 0;
  }
  return { count, have, cells };
}
