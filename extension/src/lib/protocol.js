// The extension's side of the helper protocol (helper/PROTOCOL.md): request ids, reply
// matching with timeouts, payload encoding and the native-messaging frame format. Pure: the
// transport is a `post(message)` function, the clock is `setTimeout`-shaped and injectable.

export const NATIVE_HOST = 'org.swarmlink.bthelper';

/** Largest .torrent we fetch and forward (the helper's own limit is larger). */
export const MAX_TORRENT_BYTES = 32 * 1024 * 1024;

export class HelperError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'HelperError';
    this.code = code;
  }
}

/**
 * Matches replies to requests. `handleMessage` takes every message from the helper and returns
 * it back when it is an event (not a reply), so the caller can feed it to the store.
 */
export class RpcClient {
  constructor(post, { timeoutMs = 15000, timers = globalThis } = {}) {
    this.post = post;
    this.timeoutMs = timeoutMs;
    this.timers = timers;
    this.nextId = 1;
    this.pending = new Map();
    /** The helper's own explanation of why it is going away (a reply with `id: null`), if any. */
    this.fatal = null;
  }

  request(cmd, args = {}, { timeoutMs = this.timeoutMs } = {}) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = this.timers.setTimeout(() => {
        this.pending.delete(id);
        reject(new HelperError('timeout', `the helper did not answer "${cmd}" in time`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      try {
        this.post({ ...args, id, cmd });
      } catch (err) {
        this.timers.clearTimeout(timer);
        this.pending.delete(id);
        reject(new HelperError('disconnected', String((err && err.message) || err)));
      }
    });
  }

  /** Returns the message if it is an event (or unmatched), null if it was a reply. */
  handleMessage(message) {
    if (!message || typeof message !== 'object') return null;
    if (message.event !== undefined) return message;
    if (message.id === null && message.ok === false) {
      // A reply to no request: the relay could not reach the daemon and says why before the port
      // closes (helper/PROTOCOL.md, daemon_unavailable). Every request in flight fails with it.
      const error = message.error || {};
      this.fatal = new HelperError(String(error.code || 'error'), String(error.message || 'the helper failed'));
      for (const [id, entry] of this.pending) {
        this.timers.clearTimeout(entry.timer);
        entry.reject(this.fatal);
        this.pending.delete(id);
      }
      return null;
    }
    const entry = this.pending.get(message.id);
    if (!entry) return null;
    this.pending.delete(message.id);
    this.timers.clearTimeout(entry.timer);
    if (message.ok === true) {
      entry.resolve(message.result === undefined ? null : message.result);
    } else {
      const error = message.error || {};
      entry.reject(new HelperError(String(error.code || 'error'), String(error.message || 'the helper refused')));
    }
    return null;
  }

  /** Fails every request in flight: the port closed. */
  failAll(reason) {
    for (const [id, entry] of this.pending) {
      this.timers.clearTimeout(entry.timer);
      entry.reject(new HelperError('disconnected', reason));
      this.pending.delete(id);
    }
  }
}

/** Standard base64 of bytes (Uint8Array or ArrayBuffer), chunked so big torrents don't blow the stack. */
export function bytesToBase64(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let binary = '';
  const chunk = 0x8000;
  for (let i = 0; i < view.length; i += chunk) {
    binary += String.fromCharCode.apply(null, view.subarray(i, i + chunk));
  }
  return btoa(binary);
}

/** A cheap sanity check before sending: a .torrent is a bencoded dictionary with an info key. */
export function looksLikeTorrent(bytes) {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (view.length < 2 || view[0] !== 0x64 /* d */) return false;
  const head = new TextDecoder('latin1').decode(view.subarray(0, Math.min(view.length, 1 << 20)));
  return head.includes('4:info');
}

/** The `add` request for something the user clicked, pasted or dropped. */
export function addRequestFor(item) {
  if (item.magnet) return { cmd: 'add', args: { magnet: item.magnet } };
  if (item.bytes) {
    const args = { torrent_b64: bytesToBase64(item.bytes) };
    if (item.sourceUrl) args.source_url = item.sourceUrl;
    return { cmd: 'add', args };
  }
  if (item.url) return { cmd: 'add', args: { url: item.url } };
  throw new Error('nothing to add');
}

/**
 * Native messaging frame: 4-byte little-endian length (native endianness on every platform
 * browsers ship for) + UTF-8 JSON. The browser does this for us; tests speak it to bthelper.
 */
export function encodeFrame(message) {
  const body = new TextEncoder().encode(JSON.stringify(message));
  const frame = new Uint8Array(4 + body.length);
  new DataView(frame.buffer).setUint32(0, body.length, true);
  frame.set(body, 4);
  return frame;
}

/**
 * Splits complete frames off the front of `buffer`. Returns `{messages, rest}`; a partial
 * frame stays in `rest`. A frame over `maxBytes` or with invalid JSON throws: the stream
 * cannot be trusted after that.
 */
export function decodeFrames(buffer, { maxBytes = 1024 * 1024 } = {}) {
  const view = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const messages = [];
  let offset = 0;
  while (view.length - offset >= 4) {
    const length = new DataView(view.buffer, view.byteOffset + offset, 4).getUint32(0, true);
    if (length > maxBytes) throw new RangeError(`frame of ${length} bytes exceeds ${maxBytes}`);
    if (view.length - offset - 4 < length) break;
    const body = view.subarray(offset + 4, offset + 4 + length);
    messages.push(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(body)));
    offset += 4 + length;
  }
  return { messages, rest: view.subarray(offset) };
}

/** Which `bthelper install --browser` value describes the running browser. */
export function detectBrowser({ isFirefox = false, brands = [], hasBraveApi = false } = {}) {
  if (isFirefox) return 'firefox';
  if (hasBraveApi) return 'brave';
  const names = brands.map((b) => String((b && b.brand) || ''));
  if (names.some((n) => /Edge/i.test(n))) return 'edge';
  if (names.some((n) => /Vivaldi/i.test(n))) return 'vivaldi';
  if (names.some((n) => /Brave/i.test(n))) return 'brave';
  if (names.some((n) => n === 'Google Chrome')) return 'chrome';
  return 'chromium';
}

/** The exact command that registers the helper for this browser and this extension. */
export function installCommand(browser, extensionId, os = 'linux') {
  const exe = os === 'windows' ? 'bthelper.exe' : 'bthelper';
  return `${exe} install --browser ${browser} --extension-id ${extensionId}`;
}

/** The helper protocol this extension speaks: `hello`'s `protocol` (helper/PROTOCOL.md). */
export const PROTOCOL_VERSION = 1;

/**
 * Null when the helper's `hello` reply speaks our protocol (or a newer one, which keeps the
 * old requests); otherwise the reason, in words the popup shows as they are.
 */
export function helperTooOld(hello) {
  const got = Number(hello && hello.protocol);
  if (Number.isInteger(got) && got >= PROTOCOL_VERSION) return null;
  const who = hello && typeof hello.version === 'string' ? `bthelper ${hello.version}` : 'The installed bthelper';
  const speaks = Number.isInteger(got) ? `helper protocol ${got}` : 'an older helper protocol';
  return `${who} speaks ${speaks}; this extension needs protocol ${PROTOCOL_VERSION} or newer. Install the current helper.`;
}

/** 'linux', 'windows', 'mac' or 'other', from navigator.platform ("Linux x86_64", "Win32", "MacIntel"). */
export function osOf(platform) {
  const p = String(platform || '');
  if (/^win/i.test(p)) return 'windows';
  if (/^mac/i.test(p)) return 'mac';
  if (/linux|x11|bsd/i.test(p)) return 'linux';
  return 'other';
}

/**
 * How a user gets the helper on `os` (README "Install"): on Linux the `swarmlink` Debian package
 * registers it with every browser system-wide, so it needs no command; elsewhere (and for the
 * static tarball) the binary is put in place and then `installCommand` registers it.
 * Returns {package: text or null, binary: text}; the popup shows both steps.
 */
export function installSteps(os) {
  if (os === 'linux') {
    return {
      package: 'Debian or Ubuntu: install the swarmlink package from the Swarmlink release (sudo apt install ./swarmlink_*.deb). That is all: it registers the helper with every browser.',
      binary: 'Other Linux: unpack the release tarball, put bin/bthelper on your PATH, then run:',
    };
  }
  if (os === 'windows') {
    return { package: null, binary: 'Put bthelper.exe from the Swarmlink release where it will stay, then in a terminal run:' };
  }
  return { package: null, binary: 'Build bthelper (cargo install --path helper in a Swarmlink checkout), then in a terminal run:' };
}

/** Turns the browser's "host not found" family of errors into the `missing` helper state. */
export function classifyDisconnect(message) {
  const text = String(message || '');
  if (/not found|no such native application|not installed|forbidden|access to the specified native messaging host/i.test(text)) {
    return 'missing';
  }
  return 'broken';
}
