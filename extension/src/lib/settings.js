// The extension's own settings (kept in storage.local); the helper's settings (download
// directory, rate limits, seeding) live in the helper and are edited through get/set_settings.

export const DEFAULT_SETTINGS = Object.freeze({
  interceptClicks: true,
  interceptNavigation: true,
  interceptDownloads: true,
  contextMenu: true,
  notifications: true,
});

/** Stored values over the defaults, dropping unknown keys and wrong types. */
export function withDefaults(stored) {
  const out = { ...DEFAULT_SETTINGS };
  for (const key of Object.keys(DEFAULT_SETTINGS)) {
    if (stored && typeof stored[key] === 'boolean') out[key] = stored[key];
  }
  return out;
}
