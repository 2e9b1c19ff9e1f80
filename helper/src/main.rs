//! `bthelper`: the terminal client, the download daemon and the browser's native-messaging host
//! in one binary; everything lives in the library (`lib.rs`).

fn main() -> std::process::ExitCode {
    bthelper::run()
}
