//! The errors a request can end in: a stable code the extension switches on and a sentence for
//! the user. Below everything that answers requests (`api`, `settings`, the daemon), so that each
//! can fail in the protocol's terms without depending on the others.

/// The stable error codes of error replies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The frame is not JSON, or not UTF-8.
    BadJson,
    /// JSON, but not a request object, or a field is missing or has the wrong type.
    BadRequest,
    UnknownCommand,
    /// The frame's length prefix exceeds the limit; the connection is closed after this reply.
    FrameTooLarge,
    InvalidTorrent,
    InvalidMagnet,
    FetchFailed,
    SaveDirNotAllowed,
    UnknownTorrent,
    AlreadyAdded,
    NotComplete,
    /// `open` of a program or script without `confirm_executable`: the message names the type.
    ConfirmExecutable,
    InvalidSettings,
    Unsupported,
    Engine,
    /// Sent by the relay when it cannot reach or start the daemon, just before it exits.
    DaemonUnavailable,
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadJson => "bad_json",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::UnknownCommand => "unknown_command",
            ErrorCode::FrameTooLarge => "frame_too_large",
            ErrorCode::InvalidTorrent => "invalid_torrent",
            ErrorCode::InvalidMagnet => "invalid_magnet",
            ErrorCode::FetchFailed => "fetch_failed",
            ErrorCode::SaveDirNotAllowed => "save_dir_not_allowed",
            ErrorCode::UnknownTorrent => "unknown_torrent",
            ErrorCode::AlreadyAdded => "already_added",
            ErrorCode::NotComplete => "not_complete",
            ErrorCode::ConfirmExecutable => "confirm_executable",
            ErrorCode::InvalidSettings => "invalid_settings",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::Engine => "engine",
            ErrorCode::DaemonUnavailable => "daemon_unavailable",
            ErrorCode::Internal => "internal",
        }
    }
}

/// A failed request: the code the extension switches on, and a sentence for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}
