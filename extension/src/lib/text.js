// Display-safe text. Torrent names, file names and URLs come from strangers: a name with a
// right-to-left override (U+202E) can show "exe.txt" as "txt.exe", and control characters can
// fake line breaks or hide text. Every display of the extension (popup, confirm page, toast,
// notifications) goes through `displayText`, which shows such characters as visible escapes.
// Pure: inlined into the content script by build.mjs, so no imports and no browser APIs.

// C0 controls, DEL and C1 controls; LRM/RLM; LRE/RLE/PDF/LRO/RLO; LRI/RLI/FSI/PDI; ALM; line
// and paragraph separators (both break lines where no line break is expected).
const UNSAFE_TEXT = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** True when `text` holds a character `displayText` would escape. */
export function hasUnsafeText(text) {
  UNSAFE_TEXT.lastIndex = 0;
  const found = UNSAFE_TEXT.test(String(text));
  UNSAFE_TEXT.lastIndex = 0;
  return found;
}

/**
 * `text` with every control and bidirectional-formatting character replaced by a visible
 * `<U+XXXX>` escape, and cut to `max` characters (names can be megabytes long).
 */
export function displayText(text, max = 500) {
  let s = text === null || text === undefined ? '' : String(text);
  if (s.length > max) s = `${s.slice(0, max)}…`;
  return s.replace(UNSAFE_TEXT, (c) => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`);
}
