// Options: the extension's own toggles (storage.local, applied by the background at once) and
// the helper's settings through get_settings / set_settings. Rates are shown in KiB/s and
// sent in bytes/s, as the helper counts them.

import { DEFAULT_SETTINGS, withDefaults } from '../lib/settings.js';
import { translator, localize } from '../lib/i18n.js';

localize(document, translator((key, subs) => chrome.i18n.getMessage(key, subs)));

const port = chrome.runtime.connect({ name: 'popup' });
let nextRid = 1;
const pending = new Map();
function command(cmd, args = {}) {
  const rid = nextRid++;
  return new Promise((resolve, reject) => {
    pending.set(rid, { resolve, reject });
    port.postMessage({ type: 'command', cmd, args, rid });
  });
}
port.onMessage.addListener((message) => {
  if (message.type !== 'reply') return;
  const entry = pending.get(message.rid);
  if (!entry) return;
  pending.delete(message.rid);
  if (message.ok) entry.resolve(message.result);
  else entry.reject(new Error((message.error && message.error.error) || 'failed'));
});

// ---- extension toggles
const stored = withDefaults(await chrome.storage.local.get(null));
for (const key of Object.keys(DEFAULT_SETTINGS)) {
  const box = document.getElementById(key);
  box.checked = stored[key];
  box.addEventListener('change', () => chrome.storage.local.set({ [key]: box.checked }));
}

// ---- helper settings (helper/PROTOCOL.md: rates in bytes/s and seed_ratio, null = no limit)
const RATE_FIELDS = ['download_rate_limit', 'upload_rate_limit'];
const OPTIONAL_NUMBER_FIELDS = ['seed_ratio'];
const ALL_FIELDS = ['download_dir', 'choose_files', ...RATE_FIELDS, ...OPTIONAL_NUMBER_FIELDS, 'listen_port', 'keep_seeding'];
const fields = document.getElementById('helper-fields');
const status = document.getElementById('helper-status');
let loaded = {};

function show(kind, text) {
  status.dataset.kind = kind;
  status.textContent = text;
}

function optionalNumber(text) {
  const trimmed = String(text).trim();
  if (!trimmed) return null;
  const value = Number(trimmed);
  return Number.isFinite(value) && value > 0 ? value : null;
}

try {
  loaded = (await command('get_settings')) || {};
  for (const name of ALL_FIELDS) {
    const input = document.getElementById(name);
    if (!(name in loaded)) {
      input.closest('.field, .check').hidden = true;
      continue;
    }
    const value = loaded[name];
    if (input.type === 'checkbox') input.checked = !!value;
    else if (RATE_FIELDS.includes(name)) input.value = value === null ? '' : Math.round(Number(value) / 1024);
    else input.value = value === null || value === undefined ? '' : value;
  }
  fields.disabled = false;
  show('', '');
} catch (err) {
  show('error', `The helper app is not available (${err.message}). Open the Swarmlink toolbar button for setup steps.`);
}

document.getElementById('helper-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const settings = {};
  for (const name of ALL_FIELDS) {
    if (!(name in loaded)) continue;
    const input = document.getElementById(name);
    if (input.type === 'checkbox') settings[name] = input.checked;
    else if (RATE_FIELDS.includes(name)) {
      const kib = optionalNumber(input.value);
      settings[name] = kib === null ? null : Math.round(kib * 1024);
    } else if (OPTIONAL_NUMBER_FIELDS.includes(name)) settings[name] = optionalNumber(input.value);
    else if (name === 'listen_port') settings[name] = Math.min(65535, Math.max(0, Math.round(Number(input.value) || 0)));
    else settings[name] = input.value.trim();
  }
  try {
    const reply = await command('set_settings', { settings });
    show('ok', reply && reply.restart_required ? 'Saved; the new port applies when the helper restarts' : 'Saved');
  } catch (err) {
    show('error', `Not saved: ${err.message}`);
  }
});
