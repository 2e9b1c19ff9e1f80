// Virtual scrolling: which rows of a long list are in (or near) the viewport, so only those
// exist in the DOM. Pure (node-tested). Two shapes: rows of one fixed height (the downloads
// table) and rows of measured heights (the popup's cards, which grow while a question is open).

/**
 * Fixed-height rows. Returns `{start, end, before, after}`: rows `start..end` (end exclusive)
 * are rendered, `before`/`after` are the pixel heights of the spacers standing in for the rest.
 */
export function fixedWindow({ count, rowHeight, scrollTop, viewportHeight, overscan = 8 }) {
  const n = Math.max(0, Math.floor(count) || 0);
  const h = Math.max(1, rowHeight);
  const top = Math.max(0, Number(scrollTop) || 0);
  const first = Math.min(n, Math.floor(top / h));
  const visible = Math.ceil(Math.max(0, Number(viewportHeight) || 0) / h) + 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(n, first + visible + overscan);
  return { start, end, before: start * h, after: (n - end) * h };
}

/**
 * Rows of differing heights: `heightOf(i)` is a row's measured height, or an estimate until it
 * was measured. Same result shape as `fixedWindow`. Linear in `count` (2,000 rows cost
 * microseconds), which keeps it free of a cache that would have to be invalidated.
 */
export function measuredWindow({ count, heightOf, scrollTop, viewportHeight, overscan = 4 }) {
  const n = Math.max(0, Math.floor(count) || 0);
  const top = Math.max(0, Number(scrollTop) || 0);
  const bottom = top + Math.max(0, Number(viewportHeight) || 0);
  let y = 0;
  let first = n;
  let last = n;
  for (let i = 0; i < n; i++) {
    const h = Math.max(0, heightOf(i));
    if (first === n && y + h > top) first = i;
    if (y >= bottom) {
      last = i;
      break;
    }
    y += h;
  }
  if (first === n && n) first = n - 1;
  const start = Math.max(0, first - overscan);
  const end = Math.min(n, last + overscan);
  let before = 0;
  let after = 0;
  for (let i = 0; i < start; i++) before += Math.max(0, heightOf(i));
  for (let i = end; i < n; i++) after += Math.max(0, heightOf(i));
  return { start, end, before, after };
}

/** The scrollTop that brings row `index` (fixed height) into view, or null when it already is. */
export function scrollToRow({ index, rowHeight, scrollTop, viewportHeight }) {
  const top = index * rowHeight;
  if (top < scrollTop) return top;
  if (top + rowHeight > scrollTop + viewportHeight) return top + rowHeight - viewportHeight;
  return null;
}
