// Strings from `_locales/<lang>/messages.json` through chrome.i18n. Pure apart from the
// `getMessage` passed in (chrome.i18n.getMessage in pages; a messages.json reader in tests).

/**
 * `t(key, ...subs)`: the message for `key` with `$1`.. substituted (chrome.i18n does that). A
 * missing key shows as `⟦key⟧`, which the tests look for, rather than as an empty label.
 */
export function translator(getMessage) {
  return (key, ...subs) => {
    const text = getMessage(key, subs.map((s) => String(s)));
    return text || `⟦${key}⟧`;
  };
}

/**
 * Fills the static markup: `data-i18n` sets the text, `data-i18n-label` the aria-label,
 * `data-i18n-title` the tooltip, `data-i18n-placeholder` the placeholder.
 */
export function localize(root, t) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-label]')) el.setAttribute('aria-label', t(el.dataset.i18nLabel));
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
}

/**
 * A `getMessage` over a parsed messages.json (for node tests and the Firefox test shim):
 * `$NAME$` placeholders resolve through their `content` (`$1`..), then `$1`.. take `subs`.
 */
export function messagesGetter(messages) {
  return (key, subs = []) => {
    const entry = messages[key];
    if (!entry) return '';
    let text = entry.message.replace(/\$([A-Za-z0-9_]+)\$/g, (m, name) => {
      const ph = entry.placeholders && entry.placeholders[name.toLowerCase()];
      return ph ? ph.content : m;
    });
    text = text.replace(/\$(\d)/g, (m, d) => (subs[Number(d) - 1] !== undefined ? subs[Number(d) - 1] : ''));
    return text;
  };
}
