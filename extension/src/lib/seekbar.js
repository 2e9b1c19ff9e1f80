// The pieces of a file the helper has verified, drawn along the player's seek bar. The helper's
// streaming server answers `/pieces/...` with `{length, piece_length, first_offset, pieces,
// have_b64}` (helper/PROTOCOL.md, "Streaming"); piece `i` holds the file's bytes from
// `i * piece_length - first_offset`. Pure but for the canvas calls (node-tested with a stub).

function bits(b64) {
  try {
    const raw = atob(String(b64 || ''));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  } catch {
    return new Uint8Array(0);
  }
}

/**
 * The runs of verified bytes as fractions of the file, `[[start, end], ...]` in order and
 * merged; `null` when the answer is not a piece map.
 */
export function pieceSpans(map) {
  if (!map || typeof map !== 'object') return null;
  const { length, piece_length: plen, first_offset: first = 0, pieces } = map;
  if (!(length > 0) || !(plen > 0) || !Number.isSafeInteger(pieces) || pieces < 0) return null;
  const have = bits(map.have_b64);
  const spans = [];
  for (let i = 0; i < pieces; i++) {
    if (!((have[i >> 3] || 0) & (0x80 >> (i & 7)))) continue;
    const start = Math.max(0, i * plen - first) / length;
    const end = Math.min(length, (i + 1) * plen - first) / length;
    if (end <= start) continue;
    const last = spans[spans.length - 1];
    if (last && last[1] >= start) last[1] = Math.max(last[1], end);
    else spans.push([start, end]);
  }
  return spans;
}

/** How much of the file the spans cover, 0..1. */
export function coverage(spans) {
  return (spans || []).reduce((sum, [a, b]) => sum + (b - a), 0);
}

/**
 * Draws `spans` on a canvas 2D context of `width` x `height` pixels: the track in `colors.track`,
 * each run of verified bytes in `colors.have` (at least one pixel wide, so a lone piece shows).
 */
export function drawPieces(ctx, width, height, spans, colors) {
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = colors.track;
  ctx.fillRect(0, 0, width, height);
  ctx.fillStyle = colors.have;
  for (const [a, b] of spans || []) {
    const x = Math.floor(a * width);
    const w = Math.max(1, Math.ceil(b * width) - x);
    ctx.fillRect(x, 0, Math.min(w, width - x), height);
  }
}
