// Renders the background's state into the popup. Cards are keyed by info-hash and updated in
// place, so live progress (up to 4 updates a second) never steals keyboard focus or resets an
// open "remove?" question. The list is virtualised: only the cards in and near the viewport
// exist (the list's padding stands in for the rest), so 2,000 torrents cost what 10 do.

import { formatRate, formatPercent, formatPeers, describeProgress, formatEta, stateLabel, movingLabel } from '../lib/format.js';
import { torrentList, totals } from '../lib/store.js';
import { installCommand, installSteps } from '../lib/protocol.js';
import { displayText } from '../lib/text.js';
import { icon } from './icons.js';
import { measuredWindow } from '../lib/virtual.js';
import { translator } from '../lib/i18n.js';
import { playerPath, mayHoldMedia } from '../lib/media.js';

const t9n = translator((key, subs) => chrome.i18n.getMessage(key, subs));

// A card's height before it was measured (one line of name, gauge, two lines, 8 px gap).
const CARD_ESTIMATE = 104;
const GAP = 8;

function el(doc, tag, props = {}, children = []) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key.startsWith('data-') || key.startsWith('aria-') || key === 'role' || key === 'for') node.setAttribute(key, value);
    else node[key] = value;
  }
  node.append(...children);
  return node;
}

function setIfChanged(node, name, value) {
  if (node.getAttribute(name) !== value) node.setAttribute(name, value);
}

function iconButton(doc, name, label, onClick, extraClass = '') {
  const button = el(doc, 'button', { type: 'button', class: `icon-button ${extraClass}`.trim(), title: label, 'aria-label': label });
  button.append(icon(doc, name));
  button.addEventListener('click', onClick);
  return button;
}

/** `actions`: {command(cmd, args) -> Promise, retry(), copy(text)} */
export class PopupView {
  constructor(doc, actions) {
    this.doc = doc;
    this.actions = actions;
    this.main = doc.getElementById('main');
    this.cards = new Map();
    this.list = null;
    this.mode = null;
    this.env = { browser: 'chromium', extensionId: '' };
    this.torrents = [];
    this.heights = new Map();
    this.scrollQueued = false;
    this.main.addEventListener('scroll', () => {
      if (this.mode !== 'list' || this.scrollQueued) return;
      this.scrollQueued = true;
      requestAnimationFrame(() => {
        this.scrollQueued = false;
        if (this.list) this.renderList(this.torrents);
      });
    });
  }

  render(state, env) {
    if (env) this.env = env;
    const { down, up } = totals(state);
    this.doc.getElementById('total-down').textContent = formatRate(down);
    this.doc.getElementById('total-up').textContent = formatRate(up);
    const torrents = torrentList(state);
    let mode;
    if (['missing', 'broken', 'outdated'].includes(state.helper)) mode = `setup-${state.helper}`;
    else if (torrents.length) mode = 'list';
    else if (state.helper === 'ready') mode = 'empty';
    else mode = 'connecting';
    this.doc.body.dataset.helper = state.helper;
    const version = this.doc.getElementById('helper-version');
    if (version) {
      const info = state.helper === 'ready' && state.helperInfo;
      version.textContent = info && typeof info.version === 'string' ? t9n('helperVersion', info.version) : '';
    }
    if (mode !== this.mode || (mode.startsWith('setup') && this.setupError !== state.helperError)) {
      this.mode = mode;
      this.main.replaceChildren();
      this.cards.clear();
      this.list = null;
      if (mode === 'list') {
        this.list = el(this.doc, 'ul', { class: 'torrents', 'aria-label': t9n('popupListLabel') });
        this.main.append(this.list);
      } else if (mode === 'empty') {
        this.main.append(this.emptyState());
      } else if (mode === 'connecting') {
        this.main.append(el(this.doc, 'div', { class: 'connecting', role: 'status', text: t9n('popupConnecting') }));
      } else {
        this.setupError = state.helperError;
        this.main.append(this.setupScreen(state));
      }
    }
    if (mode === 'list') this.renderList(torrents);
  }

  renderList(torrents, remeasure = 2) {
    this.torrents = torrents;
    const heightOf = (i) => this.heights.get(torrents[i].info_hash) ?? CARD_ESTIMATE;
    const win = measuredWindow({
      count: torrents.length,
      heightOf,
      scrollTop: this.main.scrollTop - this.list.offsetTop,
      viewportHeight: this.main.clientHeight || 600,
    });
    this.list.style.paddingTop = `${win.before}px`;
    this.list.style.paddingBottom = `${win.after}px`;
    const seen = new Set();
    for (let i = win.start; i < win.end; i++) {
      const t = torrents[i];
      seen.add(t.info_hash);
      let card = this.cards.get(t.info_hash);
      if (!card) {
        card = new TorrentCard(this.doc, t, this.actions);
        this.cards.set(t.info_hash, card);
      }
      const at = this.list.children[i - win.start];
      if (at !== card.root) this.list.insertBefore(card.root, at || null);
      setIfChanged(card.root, 'aria-setsize', String(torrents.length));
      setIfChanged(card.root, 'aria-posinset', String(i + 1));
      card.update(t);
    }
    for (const [hash, card] of this.cards) {
      if (!seen.has(hash)) {
        card.root.remove();
        this.cards.delete(hash);
      }
    }
    // Measured heights replace the estimate; if any differed the window is computed again
    // (bounded: a card whose height keeps changing cannot loop). A card's height changes only
    // when it is new or its question opened or closed, so only those are measured: reading a
    // height forces a layout, which 4 progress rounds a second should not pay for.
    let changed = false;
    for (const [hash, card] of this.cards) {
      const shape = card.confirmBox ? 'asking' : 'plain';
      if (card.measured === shape && this.heights.has(hash)) continue;
      const h = card.root.offsetHeight + GAP;
      card.measured = shape;
      if (h > GAP && this.heights.get(hash) !== h) {
        this.heights.set(hash, h);
        changed = true;
      }
    }
    if (this.heights.size > 4 * torrents.length + 100) this.heights.clear();
    if (changed && remeasure > 0) this.renderList(torrents, remeasure - 1);
  }

  emptyState() {
    const doc = this.doc;
    const art = icon(doc, 'swarm');
    art.classList.add('art');
    return el(doc, 'section', { class: 'empty', 'aria-labelledby': 'empty-title' }, [
      art,
      el(doc, 'h2', { id: 'empty-title', text: t9n('emptyTitle') }),
      el(doc, 'p', { text: t9n('emptyClick') }),
      el(doc, 'p', { text: t9n('emptyPaste') }),
    ]);
  }

  setupScreen(state) {
    const doc = this.doc;
    const os = this.env.os || 'linux';
    const command = installCommand(this.env.browser, this.env.extensionId, os);
    const how = installSteps(os);
    const missing = state.helper === 'missing';
    const outdated = state.helper === 'outdated';
    const title = t9n(missing ? 'setupMissingTitle' : outdated ? 'setupOutdatedTitle' : 'setupBrokenTitle');
    const intro = missing ? t9n('setupMissingIntro') : outdated ? state.helperError : t9n('setupBrokenIntro');
    const commandBox = el(doc, 'div', { class: 'command' }, [
      el(doc, 'code', { id: 'install-command', text: command }),
      iconButton(doc, 'copy', t9n('copyCommand'), () => this.actions.copy(command)),
    ]);
    const steps = el(doc, 'ol', { id: 'install-steps', 'data-os': os }, [
      ...(how.package ? [el(doc, 'li', { id: 'install-package', text: how.package })] : []),
      el(doc, 'li', {}, [doc.createTextNode(how.binary), commandBox]),
      el(doc, 'li', {}, [doc.createTextNode(t9n('setupThen'))]),
    ]);
    // Reconnects to the helper in place: the popup re-renders when the state changes.
    const retry = el(doc, 'button', { type: 'button', class: 'primary', id: 'retry', text: t9n('checkAgain') });
    retry.addEventListener('click', () => this.actions.retry());
    const head = el(doc, 'div', { class: 'warn-art' }, [icon(doc, 'warning'), el(doc, 'h2', { id: 'setup-title', text: title })]);
    const section = el(doc, 'section', { class: 'setup', id: 'setup', 'data-helper': state.helper, 'aria-labelledby': 'setup-title' }, [
      head,
      el(doc, 'p', { text: intro }),
      steps,
      retry,
    ]);
    if (state.helperError) {
      section.append(
        el(doc, 'details', {}, [el(doc, 'summary', { text: t9n('technicalDetails') }), el(doc, 'code', { id: 'helper-error', text: state.helperError })]),
      );
    }
    return section;
  }
}

class TorrentCard {
  constructor(doc, t, actions) {
    this.doc = doc;
    this.actions = actions;
    this.hash = t.info_hash;
    const nameId = `name-${t.info_hash}`;
    this.name = el(doc, 'span', { class: 'name', id: nameId });
    this.pill = el(doc, 'span', { class: 'pill' });
    this.fill = el(doc, 'div');
    this.gauge = el(doc, 'div', { class: 'gauge', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': '100', 'aria-labelledby': nameId }, [this.fill]);
    this.summary = el(doc, 'span', { class: 'summary' });
    this.percent = el(doc, 'span', { class: 'percent' });
    this.transfer = el(doc, 'span', { class: 'transfer' });
    this.toggle = iconButton(doc, 'pause', t9n('actionPause'), () => this.togglePause());
    this.open = iconButton(doc, 'open', t9n('actionOpen'), () => this.openFile());
    this.reveal = iconButton(doc, 'folder', t9n('actionReveal'), () => this.run('reveal'));
    // Play while it downloads: the player page finds the torrent's largest video or audio file.
    this.play = iconButton(doc, 'play', t9n('playPopup'), () => {
      const path = playerPath(this.hash);
      if (path && this.actions.play) this.actions.play(path);
    }, 'play-button');
    this.play.hidden = !mayHoldMedia(t.name);
    this.remove = iconButton(doc, 'remove', t9n('actionRemoveConfirm'), () => this.askRemove(), 'danger-icon');
    // Only while its files move: stops the copy, the files stay where they were.
    this.cancelMove = el(doc, 'button', { type: 'button', class: 'secondary cancel-move', text: t9n('actionCancelMove') });
    this.cancelMove.addEventListener('click', () => this.run('cancel_move'));
    this.cancelMove.hidden = true;
    this.actionsBox = el(doc, 'div', { class: 'actions' }, [this.cancelMove, this.play, this.toggle, this.open, this.reveal, this.remove]);
    this.root = el(doc, 'li', { class: 'torrent', 'data-hash': t.info_hash }, [
      el(doc, 'div', { class: 'top' }, [this.name, this.pill]),
      this.gauge,
      el(doc, 'div', { class: 'line' }, [this.summary, this.percent]),
      el(doc, 'div', { class: 'bottom line' }, [this.transfer, this.actionsBox]),
    ]);
    this.confirmBox = null;
  }

  update(t) {
    // The background replaces a torrent's object exactly when it changed (lib/sync.js).
    if (t === this.t) return;
    this.t = t;
    this.root.dataset.state = t.state;
    // Names and paths come from strangers' torrents: never shown raw (lib/text.js).
    const name = displayText(t.name);
    this.name.textContent = name;
    this.play.hidden = !mayHoldMedia(t.name);
    this.name.title = t.save_path ? `${name}\n${displayText(t.save_path)}` : name;
    const moving = movingLabel(t, t9n);
    this.pill.textContent = moving ? moving.text : stateLabel(t.state, t9n);
    this.pill.title = moving ? moving.title : '';
    this.pill.dataset.state = t.state;
    this.cancelMove.hidden = !moving;
    const pct = Math.min(100, Math.max(0, t.progress * 100));
    this.fill.style.transform = `scaleX(${pct / 100})`;
    this.gauge.setAttribute('aria-valuenow', pct.toFixed(1));
    this.gauge.setAttribute('aria-valuetext', `${formatPercent(t.progress)}, ${stateLabel(t.state, t9n)}`);
    this.summary.textContent = displayText(describeProgress(t, t9n));
    this.percent.textContent = formatPercent(t.progress);
    const active = t.state === 'downloading' || t.state === 'seeding' || t.state === 'connecting';
    this.transfer.textContent = active
      ? `↓ ${formatRate(t.down_rate)}  ↑ ${formatRate(t.up_rate)} · ${formatPeers(t.peers, t.seeds, t9n)}`
      : '';
    if (t.state === 'downloading' && t.eta_secs !== null) this.root.title = t9n('progressLeft', formatEta(t.eta_secs));
    // A torrent stopped by an error is retried by resuming it.
    const stopped = t.state === 'paused' || t.state === 'error';
    const label = t9n(t.state === 'paused' ? 'actionResume' : t.state === 'error' ? 'actionRetry' : 'actionPause');
    if (this.toggle.getAttribute('aria-label') !== label) {
      this.toggle.setAttribute('aria-label', label);
      this.toggle.title = label;
      this.toggle.replaceChildren(icon(this.doc, stopped ? 'resume' : 'pause'));
    }
    const done = t.progress >= 1 || t.state === 'seeding';
    this.open.disabled = !done;
    this.reveal.disabled = !t.save_path && !done;
  }

  async run(cmd, args = {}) {
    try {
      await this.actions.command(cmd, { info_hash: this.hash, ...args });
    } catch {
      // the popup's notice line reports it
    }
  }

  togglePause() {
    this.run(this.t.state === 'paused' || this.t.state === 'error' ? 'resume' : 'pause');
  }

  /**
   * Opens the finished download. The helper refuses to start a program or script without the
   * user's explicit yes (`confirm_executable`): its message names the file type, and the user
   * answers here, in the extension's own popup, never on a web page.
   */
  async openFile(confirmed = false) {
    try {
      await this.actions.command('open', { info_hash: this.hash, ...(confirmed ? { confirm_executable: true } : {}) });
    } catch (err) {
      if (!confirmed && err && err.code === 'confirm_executable') this.askRunProgram(err.message);
    }
  }

  askRunProgram(message) {
    this.ask({
      label: t9n('runTitle', displayText(this.t.name)),
      text: t9n('runText', displayText(message)),
      yes: { text: t9n('runIt'), class: 'danger confirm-run' },
      returnFocus: this.open,
      closeOnYes: true,
      onYes: () => this.openFile(true),
    });
  }

  askRemove() {
    const doc = this.doc;
    const checkboxId = `delete-${this.hash}`;
    const checkbox = el(doc, 'input', { type: 'checkbox', id: checkboxId, class: 'delete-files' });
    this.ask({
      label: t9n('removeLabel', displayText(this.t.name)),
      text: t9n('removeOne', displayText(this.t.name)),
      extra: [el(doc, 'label', { for: checkboxId }, [checkbox, doc.createTextNode(t9n('removeDeleteFiles'))])],
      yes: { text: t9n('actionRemoveConfirm'), class: 'danger confirm-remove' },
      returnFocus: this.remove,
      onYes: () => this.run('remove', { delete_files: checkbox.checked }),
    });
  }

  /**
   * An inline question under the card. "Cancel" has the focus, so a key pressed in haste never
   * says yes; Escape closes it.
   */
  ask({ label, text, extra = [], yes, returnFocus, onYes, closeOnYes = false }) {
    if (this.confirmBox) return;
    const doc = this.doc;
    const yesButton = el(doc, 'button', { type: 'button', class: yes.class, text: yes.text });
    const no = el(doc, 'button', { type: 'button', class: 'secondary', text: t9n('cancel') });
    this.confirmBox = el(doc, 'div', { class: 'confirm', role: 'group', 'aria-label': label }, [
      el(doc, 'span', { text }),
      ...extra,
      el(doc, 'div', { class: 'buttons' }, [no, yesButton]),
    ]);
    const close = () => {
      this.confirmBox.remove();
      this.confirmBox = null;
      returnFocus.focus();
    };
    no.addEventListener('click', close);
    this.confirmBox.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') close();
    });
    yesButton.addEventListener('click', () => {
      yesButton.disabled = true;
      onYes();
      // A removed torrent's card goes away with its question; other answers close it.
      if (closeOnYes) close();
    });
    this.root.append(this.confirmBox);
    no.focus();
  }
}
