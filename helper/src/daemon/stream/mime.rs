//! What a streamed file is called on the wire: its `Content-Type` from a small table of media
//! types by extension (anything else is `application/octet-stream`, so a torrent's `.html` is
//! never served as a page), and its name as the last URL segment.

/// The media type for a file name, by its extension.
pub fn content_type(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mkv" => "video/x-matroska",
        "mov" => "video/quicktime",
        "avi" => "video/x-msvideo",
        "ogv" => "video/ogg",
        "ts" | "m2ts" => "video/mp2t",
        "mpg" | "mpeg" => "video/mpeg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "aac" => "audio/aac",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "flac" => "audio/flac",
        "wav" => "audio/wav",
        "vtt" => "text/vtt",
        "srt" => "application/x-subrip",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    }
}

/// A file name as one URL path segment: unreserved bytes kept, the rest percent-encoded.
pub fn url_segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_by_extension_and_nothing_else_as_its_own_type() {
        assert_eq!(content_type("a.MP4"), "video/mp4");
        assert_eq!(content_type("a.webm"), "video/webm");
        assert_eq!(content_type("song.flac"), "audio/flac");
        assert_eq!(content_type("index.html"), "application/octet-stream");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }

    #[test]
    fn names_become_one_safe_segment() {
        assert_eq!(
            url_segment("My Film (2020).mkv"),
            "My%20Film%20%282020%29.mkv"
        );
        assert_eq!(url_segment("../x/y"), "..%2Fx%2Fy");
        assert_eq!(url_segment("é"), "%C3%A9");
    }
}
