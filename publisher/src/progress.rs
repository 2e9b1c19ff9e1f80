//! The hashing progress bar: drawn on a terminal, absent otherwise (logs and tests stay clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar of `total` bytes labelled `label`. It starts hidden: [`show_on_terminal`] draws it once
/// hashing really starts (a cached torrent shows no bar), and only if stderr is a terminal.
pub fn hashing_bar(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
    if let Ok(style) = ProgressStyle::with_template(
        "hashing {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(label.to_owned());
    bar
}

/// Starts drawing `bar` on stderr if that is a terminal.
pub fn show_on_terminal(bar: &ProgressBar) {
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
    }
}
