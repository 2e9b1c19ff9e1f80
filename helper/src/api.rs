//! The messages between the extension (or `bthelper` terminal commands) and the daemon, exactly
//! as helper/PROTOCOL.md documents them.
//!
//! A request is parsed in two steps, `serde_json::Value` first and the typed [`Command`] second,
//! so that a wrong-typed field still yields its request's `id` and a precise error reply.

use engine::{TorrentState, TorrentStatus, WebSeedState, WebSeedStatus};
use serde::Deserialize;
use serde_json::{json, Value};

pub use crate::error::{ApiError, ErrorCode};
use crate::settings::SettingsPatch;

/// Bumped when a message changes incompatibly; `hello` reports it.
pub const PROTOCOL_VERSION: u32 = 1;

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Command {
    Hello {
        /// Who is asking ("extension", "cli", ...); informative only.
        #[serde(default)]
        client: Option<String>,
    },
    Add(AddArgs),
    List {
        /// Index of the first torrent to list; replies are split to stay under 1 MiB.
        #[serde(default)]
        offset: usize,
    },
    Subscribe,
    Unsubscribe,
    Pause {
        info_hash: String,
    },
    Resume {
        info_hash: String,
    },
    Remove {
        info_hash: String,
        #[serde(default)]
        delete_files: bool,
    },
    Open {
        info_hash: String,
        /// The user has been told the file is a program or script and wants it run anyway.
        #[serde(default)]
        confirm_executable: bool,
    },
    Reveal {
        info_hash: String,
    },
    /// The connected peers of one torrent (the downloads page's detail pane).
    Peers {
        info_hash: String,
    },
    /// One torrent's own rate limits (bytes per second, under the global ones): a field left
    /// out stays as it is, `null` lifts that limit.
    SetLimits {
        info_hash: String,
        #[serde(default, deserialize_with = "present")]
        down_limit: Option<Option<u64>>,
        #[serde(default, deserialize_with = "present")]
        up_limit: Option<Option<u64>>,
    },
    /// Each file with its priority and progress (split like `list`).
    Files {
        info_hash: String,
        #[serde(default)]
        offset: usize,
    },
    /// One priority for the listed files, applied at once.
    Priority {
        info_hash: String,
        files: FileList,
        priority: engine::FilePriority,
    },
    /// Starts a torrent that waits in `awaiting_selection` with these files (the others skip).
    Select {
        info_hash: String,
        files: FileList,
        #[serde(default)]
        save_dir: Option<String>,
    },
    /// Moves a torrent in the queue order: `up`, `down`, `top` or `bottom`.
    Queue {
        info_hash: String,
        to: String,
    },
    /// Moves a torrent's files to another allowed folder while it runs.
    Move {
        info_hash: String,
        save_dir: String,
    },
    /// Stops the torrent's move under way (a copy; the files stay where they were).
    CancelMove {
        info_hash: String,
    },
    /// One torrent's own seed goals: `null` follows the settings, `"unlimited"` lifts them, a
    /// number is its own; a field left out stays as it is.
    SetGoals {
        info_hash: String,
        #[serde(default, deserialize_with = "crate::goals::present")]
        seed_ratio: Option<protocol::Goal<f64>>,
        #[serde(default, deserialize_with = "crate::goals::present")]
        seed_time_secs: Option<protocol::Goal<u64>>,
    },
    /// The loopback URL that streams file `file` of a torrent while it downloads.
    StreamUrl {
        info_hash: String,
        file: usize,
    },
    GetSettings,
    SetSettings {
        settings: SettingsPatch,
    },
    /// Asks the daemon to stop (terminal `bthelper daemon --stop`, tests).
    Shutdown,
}

/// `add`: exactly one of `torrent_b64`, `magnet`, `url`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct AddArgs {
    #[serde(default)]
    pub torrent_b64: Option<String>,
    /// Where the `.torrent` came from (shown to the user, kept in the download list).
    #[serde(default)]
    pub source_url: Option<String>,
    #[serde(default)]
    pub magnet: Option<String>,
    /// An http(s) URL of a `.torrent` that the daemon fetches itself.
    #[serde(default)]
    pub url: Option<String>,
    /// Must lie inside the download directory or one of `settings.allowed_dirs`.
    #[serde(default)]
    pub save_dir: Option<String>,
    #[serde(default)]
    pub paused: bool,
    #[serde(default)]
    pub sequential: bool,
    /// Peers to try besides the trackers' ("127.0.0.1:6881", "[::1]:6881"); not persisted.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Indices of the files to download (the others are skipped and never created).
    #[serde(default)]
    pub files: Option<Vec<u32>>,
    /// This torrent's own rate limits in bytes per second (null/absent = none); persisted.
    #[serde(default)]
    pub down_limit: Option<u64>,
    #[serde(default)]
    pub up_limit: Option<u64>,
    // `id` and `cmd` travel in the same object; accepted and ignored here.
    #[serde(default, rename = "id")]
    _id: Option<Value>,
    #[serde(default, rename = "cmd")]
    _cmd: Option<Value>,
}

/// Which files a command names: `"all"` or a list of indices.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "RawFileList")]
pub enum FileList {
    All,
    Only(Vec<u32>),
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawFileList {
    Word(String),
    List(Vec<u32>),
}

impl TryFrom<RawFileList> for FileList {
    type Error = String;
    fn try_from(raw: RawFileList) -> Result<Self, String> {
        match raw {
            RawFileList::Word(w) if w == "all" => Ok(FileList::All),
            RawFileList::Word(w) => Err(format!(
                "`files` is \"all\" or a list of indices, not {w:?}"
            )),
            RawFileList::List(v) => Ok(FileList::Only(v)),
        }
    }
}

impl FileList {
    /// Whether file `i` is named.
    pub fn names(&self, i: usize) -> bool {
        match self {
            FileList::All => true,
            FileList::Only(v) => v.iter().any(|&x| x as usize == i),
        }
    }
}

const COMMANDS: &[&str] = &[
    "hello",
    "add",
    "list",
    "subscribe",
    "unsubscribe",
    "pause",
    "resume",
    "remove",
    "open",
    "reveal",
    "peers",
    "set_limits",
    "files",
    "priority",
    "select",
    "queue",
    "move",
    "cancel_move",
    "set_goals",
    "stream_url",
    "get_settings",
    "set_settings",
    "shutdown",
];

/// Parses one frame's payload into its request id and command; on failure, the id (or null) and
/// the error to reply with.
pub fn parse_request(payload: &[u8]) -> Result<(Value, Command), (Value, ApiError)> {
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        (
            Value::Null,
            ApiError::new(ErrorCode::BadJson, format!("not valid JSON: {e}")),
        )
    })?;
    let Value::Object(obj) = &value else {
        return Err((
            Value::Null,
            ApiError::new(ErrorCode::BadRequest, "a request is a JSON object"),
        ));
    };
    let id = obj.get("id").cloned().unwrap_or(Value::Null);
    let cmd = match obj.get("cmd") {
        Some(Value::String(cmd)) => cmd.as_str(),
        Some(_) => {
            return Err((
                id,
                ApiError::new(ErrorCode::BadRequest, "`cmd` must be a string"),
            ));
        }
        None => return Err((id, ApiError::new(ErrorCode::BadRequest, "missing `cmd`"))),
    };
    if !COMMANDS.contains(&cmd) {
        let message = format!("unknown command {cmd:?}");
        return Err((id, ApiError::new(ErrorCode::UnknownCommand, message)));
    }
    match Command::deserialize(&value) {
        Ok(command) => Ok((id, command)),
        Err(e) => Err((
            id,
            ApiError::new(ErrorCode::BadRequest, format!("bad `{cmd}` request: {e}")),
        )),
    }
}

/// Tells "absent" (outer None, via `default`) from "null" (Some(None)).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

pub fn ok_reply(id: &Value, result: Value) -> Value {
    json!({"id": id, "ok": true, "result": result})
}

pub fn error_reply(id: &Value, error: &ApiError) -> Value {
    json!({"id": id, "ok": false, "error": {"code": error.code.as_str(), "message": error.message}})
}

/// A torrent's `TorrentStatus` as the browser reads it (helper/PROTOCOL.md, "TorrentStatus"):
/// these names and values are the protocol, whatever the engine's types look like.
pub fn status_json(s: &TorrentStatus) -> Value {
    let mut status = json!({
        "info_hash": s.info_hash.to_hex(),
        "name": s.name,
        "state": state_name(s.state),
        "progress": s.progress,
        "total_bytes": s.total_bytes,
        "have_bytes": s.have_bytes,
        "downloaded": s.downloaded,
        "uploaded": s.uploaded,
        "down_rate": s.down_rate,
        "up_rate": s.up_rate,
        "peers": s.peers,
        "seeds": s.seeds,
        "eta_secs": s.eta_secs,
        "error": s.error,
        "save_path": s.save_path.to_string_lossy(),
        "seeding_secs": s.seeding_secs,
    });
    // Absent when there are none, so older readers are unaffected.
    if !s.web_seeds.is_empty() {
        status["web_seeds"] = s.web_seeds.iter().map(web_seed_json).collect();
    }
    // Only while a `move` lasts.
    if let Some(m) = &s.moving {
        status["moving"] = json!({
            "to": m.to.to_string_lossy(),
            "done_bytes": m.done_bytes,
            "total_bytes": m.total_bytes,
        });
    }
    status
}

/// The protocol's name of a torrent's state.
pub fn state_name(state: TorrentState) -> &'static str {
    match state {
        TorrentState::Checking => "checking",
        TorrentState::Allocating => "allocating",
        TorrentState::Connecting => "connecting",
        TorrentState::Downloading => "downloading",
        TorrentState::Seeding => "seeding",
        TorrentState::Paused => "paused",
        TorrentState::Queued => "queued",
        TorrentState::AwaitingSelection => "awaiting_selection",
        TorrentState::Error => "error",
    }
}

fn web_seed_json(w: &WebSeedStatus) -> Value {
    let state = match w.state {
        WebSeedState::Fetching => "fetching",
        WebSeedState::Idle => "idle",
        WebSeedState::BackingOff => "backing_off",
        WebSeedState::Failed => "failed",
    };
    let mut seed = json!({
        "url": w.url,
        "state": state,
        "down_rate": w.down_rate,
        "downloaded": w.downloaded,
        "error": w.error,
    });
    if let Some(secs) = w.retry_in_secs {
        seed["retry_in_secs"] = json!(secs);
    }
    seed
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
