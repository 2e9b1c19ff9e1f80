// Human-readable sizes, rates, times and states for the popup and the downloads page. Pure
// (node-testable).
import { displayText } from './text.js';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** 1536 -> "1.5 KiB"; three significant digits, binary units, never "NaN". */
export function formatBytes(bytes) {
  let value = Number(bytes);
  if (!Number.isFinite(value) || value < 0) return '—';
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${Math.round(value)} B`;
  const digits = value >= 100 ? 0 : value >= 10 ? 1 : 2;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

/** Bytes per second -> "1.5 MiB/s"; zero or nonsense shows as "0 B/s". */
export function formatRate(bytesPerSecond) {
  const value = Number(bytesPerSecond);
  if (!Number.isFinite(value) || value <= 0) return '0 B/s';
  return `${formatBytes(value)}/s`;
}

/**
 * Seconds left -> "45 s", "3 min", "1 h 5 min", "2 d 3 h"; null/unknown -> "" (the caller
 * decides whether to show "unknown").
 */
export function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return '';
  const s = Math.round(Number(seconds));
  if (!Number.isFinite(s) || s < 0) return '';
  if (s < 60) return `${s} s`;
  const minutes = Math.round(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(s / 3600);
  if (hours < 24) {
    const rest = Math.round((s - hours * 3600) / 60);
    return rest ? `${hours} h ${rest} min` : `${hours} h`;
  }
  const days = Math.floor(s / 86400);
  const restHours = Math.round((s - days * 86400) / 3600);
  return restHours ? `${days} d ${restHours} h` : `${days} d`;
}

/** 0.4567 -> "45.6%"; 1 -> "100%"; clamps, and never rounds an unfinished torrent up to 100%. */
export function formatPercent(progress) {
  let p = Number(progress);
  if (!Number.isFinite(p)) p = 0;
  p = Math.min(1, Math.max(0, p));
  if (p >= 1) return '100%';
  const tenths = Math.floor(p * 1000) / 10;
  return `${tenths.toFixed(1)}%`;
}

// The words below come from `_locales` through `t9n` (lib/i18n.js `translator`), so pages pass
// chrome.i18n's and the tests a messages.json's.

/** The label shown for a TorrentStatus state; unknown states are shown as they came. */
export function stateLabel(state, t9n) {
  const known = ['checking', 'allocating', 'connecting', 'downloading', 'seeding', 'paused', 'queued', 'awaiting_selection', 'error'];
  return known.includes(state) ? t9n(`state_${state}`) : String(state || '?');
}

/**
 * "Moving 42%" while a torrent's files move to another folder (`moving` in its status), with
 * where to as a tooltip; null otherwise. Shown in the popup and the downloads page alike.
 */
export function movingLabel(t, t9n) {
  const m = t && t.moving;
  if (!m) return null;
  const share = m.total_bytes ? m.done_bytes / m.total_bytes : 0;
  return { text: t9n('stateMoving', formatPercent(share)), title: t9n('movingTo', displayText(m.to)) };
}

/** "3 peers · 1 seed" with correct plurals. */
export function formatPeers(peers, seeds, t9n) {
  const p = Math.max(0, Number(peers) || 0);
  const s = Math.max(0, Number(seeds) || 0);
  return `${t9n(p === 1 ? 'peerCountOne' : 'peerCount', p)} · ${t9n(s === 1 ? 'seedCountOne' : 'seedCount', s)}`;
}

/** The one-line "what is it doing" summary under a torrent's progress bar. */
export function describeProgress(t, t9n) {
  const size = t9n('progressOf', formatBytes(t.have_bytes), formatBytes(t.total_bytes));
  switch (t.state) {
    case 'seeding':
      return t9n('progressSeeding', formatBytes(t.total_bytes), formatBytes(t.uploaded));
    case 'downloading': {
      const eta = formatEta(t.eta_secs);
      return `${size} · ${eta ? t9n('progressLeft', eta) : t9n('progressEtaUnknown')}`;
    }
    case 'error':
      return t.error ? String(t.error) : t9n('progressError');
    default:
      return size;
  }
}
