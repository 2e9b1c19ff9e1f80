// What a .torrent describes, for the confirm page: name, total size, file count. Pure and
// bounded: a strict bencode reader with a nesting limit and an item budget, so a hostile file
// gives an error, never a hang or a deep recursion. The helper validates the torrent for real
// when it is added; this only tells the user what they are about to accept.

const MAX_DEPTH = 64;
const MAX_ITEMS = 2_000_000;

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
    this.items = 0;
  }

  fail(what) {
    throw new Error(`not a valid .torrent: ${what} at byte ${this.i}`);
  }

  int(end) {
    const start = this.i;
    while (this.i < this.b.length && this.b[this.i] !== end) this.i++;
    if (this.i >= this.b.length) this.fail('unterminated number');
    const text = new TextDecoder('latin1').decode(this.b.subarray(start, this.i));
    if (!/^-?(0|[1-9][0-9]{0,18})$/.test(text)) this.fail('bad number');
    this.i++;
    return Number(text);
  }

  value(depth) {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    if (++this.items > MAX_ITEMS) this.fail('too many items');
    const c = this.b[this.i];
    if (c === 0x69 /* i */) {
      this.i++;
      return this.int(0x65);
    }
    if (c === 0x6c /* l */ || c === 0x64 /* d */) {
      this.i++;
      const list = c === 0x6c ? [] : new Map();
      while (this.b[this.i] !== 0x65 /* e */) {
        if (this.i >= this.b.length) this.fail('unterminated list');
        if (c === 0x6c) list.push(this.value(depth + 1));
        else {
          if (this.b[this.i] < 0x30 || this.b[this.i] > 0x39) this.fail('dictionary key is not a string');
          const key = new TextDecoder('latin1').decode(this.value(depth + 1));
          list.set(key, this.value(depth + 1));
        }
      }
      this.i++;
      return list;
    }
    if (c >= 0x30 && c <= 0x39) {
      const n = this.int(0x3a /* : */);
      if (n > this.b.length - this.i) this.fail('string past the end');
      const s = this.b.subarray(this.i, this.i + n);
      this.i += n;
      return s;
    }
    return this.fail('unexpected byte');
  }
}

/** Decodes bencode into Map / Array / number / Uint8Array; throws on anything malformed. */
export function decodeBencode(bytes) {
  const r = new Reader(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const v = r.value(0);
  if (r.i !== r.b.length) r.fail('trailing bytes');
  return v;
}

function utf8(bytes) {
  return bytes instanceof Uint8Array ? new TextDecoder('utf-8').decode(bytes) : null;
}

/**
 * `{name, totalBytes, fileCount}` of a v1 (or hybrid) .torrent, or throws with the reason.
 * v2-only torrents count their `file tree` leaves.
 */
export function describeTorrent(bytes) {
  const root = decodeBencode(bytes);
  const info = root instanceof Map ? root.get('info') : null;
  if (!(info instanceof Map)) throw new Error('not a valid .torrent: no info dictionary');
  const name = utf8(info.get('name.utf-8')) ?? utf8(info.get('name'));
  if (!name) throw new Error('not a valid .torrent: no name');
  const files = info.get('files');
  if (typeof info.get('length') === 'number') {
    return { name, totalBytes: info.get('length'), fileCount: 1 };
  }
  if (Array.isArray(files)) {
    let total = 0;
    for (const f of files) {
      const length = f instanceof Map ? f.get('length') : null;
      if (typeof length !== 'number' || length < 0) throw new Error('not a valid .torrent: a file without a length');
      total += length;
    }
    return { name, totalBytes: total, fileCount: files.length };
  }
  const tree = info.get('file tree');
  if (tree instanceof Map) {
    let total = 0;
    let count = 0;
    const stack = [tree];
    while (stack.length) {
      const node = stack.pop();
      for (const [key, child] of node) {
        if (!(child instanceof Map)) continue;
        const leaf = key === '' ? child : null;
        if (leaf && typeof leaf.get('length') === 'number') {
          total += leaf.get('length');
          count++;
        } else stack.push(child);
      }
    }
    return { name, totalBytes: total, fileCount: count };
  }
  throw new Error('not a valid .torrent: neither length nor files');
}

/** The display name a magnet link carries (`dn`), or null. */
export function magnetName(magnet) {
  try {
    const params = new URLSearchParams(String(magnet).replace(/^magnet:\?/i, ''));
    return params.get('dn');
  } catch {
    return null;
  }
}
