// Subtitles shipped beside a video in its torrent: which files they are, and SubRip (.srt)
// turned into WebVTT, the only format a <track> element reads. Pure (node-tested).

const SUB_EXT = new Set(['srt', 'vtt']);
/** The most a subtitle file may weigh before the player ignores it. */
export const MAX_SUBTITLE_BYTES = 4 * 1024 * 1024;

function splitPath(p) {
  const s = String(p || '');
  const slash = s.lastIndexOf('/');
  return { dir: slash < 0 ? '' : s.slice(0, slash), base: slash < 0 ? s : s.slice(slash + 1) };
}

function stem(base) {
  const dot = base.lastIndexOf('.');
  return dot <= 0 ? base : base.slice(0, dot);
}

/**
 * The subtitle files beside the video `videoIndex` in a `files` answer's list: `.srt` and
 * `.vtt` in the same folder, those named after the video first. Each is
 * `{index, name, format: 'srt'|'vtt', label, lang}`; `lang` is a language tag found between the
 * video's name and the extension (`film.en.srt`, `film.pt-BR.vtt`), or ''.
 */
export function subtitlesFor(files, videoIndex) {
  const list = Array.isArray(files) ? files : [];
  const video = list.find((f) => f && f.index === videoIndex);
  if (!video) return [];
  const { dir, base: videoBase } = splitPath(video.path);
  const videoStem = stem(videoBase).toLowerCase();
  const out = [];
  for (const f of list) {
    if (!f || f.index === videoIndex || typeof f.path !== 'string') continue;
    const { dir: d, base } = splitPath(f.path);
    const dot = base.lastIndexOf('.');
    const format = dot < 0 ? '' : base.slice(dot + 1).toLowerCase();
    if (d !== dir || !SUB_EXT.has(format)) continue;
    const inner = base.slice(0, dot);
    const own = inner.toLowerCase() === videoStem || inner.toLowerCase().startsWith(`${videoStem}.`);
    const rest = own ? inner.slice(videoStem.length + 1) : '';
    const lang = /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/i.test(rest) ? rest : '';
    out.push({ index: f.index, name: base, format, label: rest || inner, lang, own });
  }
  out.sort((a, b) => Number(b.own) - Number(a.own) || a.name.localeCompare(b.name));
  return out.map(({ own, ...s }) => s);
}

const TIME = /^\s*(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?\s*-->\s*(\d{1,3}):(\d{1,2}):(\d{1,2})(?:[,.](\d{1,3}))?/;

function stamp(h, m, s, ms) {
  const two = (n) => String(Number(n)).padStart(2, '0');
  return `${two(h)}:${two(m)}:${two(s)}.${String(ms || '0').padEnd(3, '0').slice(0, 3)}`;
}

/** Cue text for WebVTT: the tags both formats share kept, others dropped, the rest escaped. */
function cueText(line) {
  let out = '';
  let i = 0;
  const s = line.replace(/-->/g, '→');
  while (i < s.length) {
    const m = /^<\/?([biu])>/i.exec(s.slice(i));
    if (m) {
      out += m[0].toLowerCase();
      i += m[0].length;
      continue;
    }
    const other = /^<\/?[a-z][^<>]*>/i.exec(s.slice(i));
    if (other) {
      i += other[0].length; // <font color=...> and the like: no WebVTT equivalent
      continue;
    }
    const c = s[i];
    out += c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c;
    i += 1;
  }
  return out;
}

/**
 * SubRip text to WebVTT: the header, cue timings with `.` for milliseconds, SRT's positions
 * dropped, blocks without a valid timing skipped. Lenient as players are: a missing sequence
 * number, CRLF or CR line ends, a byte-order mark, extra blank lines.
 */
export function srtToVtt(srt) {
  const lines = String(srt || '')
    .replace(/^\uFEFF/, '')
    .replace(/\r\n?/g, '\n')
    .split('\n');
  const cues = [];
  let i = 0;
  while (i < lines.length) {
    while (i < lines.length && lines[i].trim() === '') i++;
    if (i >= lines.length) break;
    let m = TIME.exec(lines[i]);
    if (!m && i + 1 < lines.length) {
      m = TIME.exec(lines[i + 1]);
      if (m) i++; // the sequence number
    }
    if (!m) {
      while (i < lines.length && lines[i].trim() !== '') i++; // not a cue: skip the block
      continue;
    }
    i++;
    const text = [];
    while (i < lines.length && lines[i].trim() !== '') text.push(cueText(lines[i++]));
    cues.push(`${stamp(m[1], m[2], m[3], m[4])} --> ${stamp(m[5], m[6], m[7], m[8])}\n${text.join('\n')}`);
  }
  return `WEBVTT\n\n${cues.join('\n\n')}${cues.length ? '\n' : ''}`;
}
