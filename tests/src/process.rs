//! Child processes whose output a test reads line by line, with deadlines on every wait.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::KillOnDrop;

/// A running process whose stdout and stderr lines arrive on a channel. Every line a wait reads
/// is kept in `seen`, so a failing wait can show what the process said. Killed when dropped.
pub struct Running {
    /// The program, for messages.
    pub program: String,
    pub child: KillOnDrop,
    pub lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
}

/// Starts `cmd` with stdin closed and its stdout and stderr read line by line (each by a thread of
/// its own, so neither pipe can fill up and stall the process).
pub fn spawn(cmd: &mut Command) -> Running {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", cmd.get_program()));
    let (tx, rx) = mpsc::channel();
    let streams: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout is piped")),
        Box::new(child.stderr.take().expect("stderr is piped")),
    ];
    for stream in streams {
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stream).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    Running {
        program: program_name(cmd),
        child: KillOnDrop(child),
        lines: rx,
        seen: Vec::new(),
    }
}

/// The program's file name (`bthelper`, not the whole path to target/debug/bthelper).
fn program_name(cmd: &Command) -> String {
    let program = Path::new(cmd.get_program());
    program
        .file_name()
        .unwrap_or(program.as_os_str())
        .to_string_lossy()
        .into_owned()
}

impl Running {
    /// The first new line containing `needle`, within `limit`.
    pub fn wait_for(&mut self, needle: &str, limit: Duration) -> String {
        self.wait_for_by(needle, Instant::now() + limit)
    }

    /// The first new line containing `needle`, before `deadline`.
    pub fn wait_for_by(&mut self, needle: &str, deadline: Instant) -> String {
        self.next_matching(deadline, |line| {
            line.contains(needle).then(|| line.to_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "no line with {needle:?} in time; output so far:\n{}",
                self.seen.join("\n")
            )
        })
    }

    /// The rest (trimmed) of the first new line that starts with `prefix`, within `limit`.
    pub fn wait_line(&mut self, prefix: &str, limit: Duration) -> String {
        self.next_matching(Instant::now() + limit, |line| {
            line.strip_prefix(prefix).map(|rest| rest.trim().to_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "no line starting with {prefix:?} within {limit:?}; output so far:\n{}",
                self.seen.join("\n")
            )
        })
    }

    /// Reads lines (keeping them in `seen`) until `pick` accepts one or `deadline` passes.
    fn next_matching<T>(
        &mut self,
        deadline: Instant,
        pick: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left).ok()?;
            let picked = pick(&line);
            self.seen.push(line);
            if picked.is_some() {
                return picked;
            }
        }
    }

    /// The exit status, within `limit` (what the process printed meanwhile goes to `seen`).
    pub fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait on our child") {
                return status;
            }
            self.drain();
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {limit:?}; output so far:\n{}",
                self.program,
                self.seen.join("\n")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs until it exits, within `limit`, and asserts that it succeeded. Afterwards `seen` holds
    /// everything it printed.
    pub fn expect_success(&mut self, limit: Duration) {
        let status = self.wait_exit(limit);
        let output = self.output();
        assert!(
            status.success(),
            "{} failed: {status}\n{output}",
            self.program
        );
    }

    /// Every line that arrives within `limit`, also kept in `seen`.
    pub fn lines_within(&mut self, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        let mut got = Vec::new();
        while let Ok(line) = self
            .lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            self.seen.push(line.clone());
            got.push(line);
        }
        got
    }

    /// Everything printed so far, without waiting: for messages about a process still running.
    pub fn drain(&mut self) -> String {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// Everything printed so far, after a pause for the reader threads to catch up with a process
    /// that has exited: it returns once both pipes are closed, or nothing arrived for 200 ms.
    pub fn output(&mut self) -> String {
        while let Ok(line) = self.lines.recv_timeout(Duration::from_millis(200)) {
            self.seen.push(line);
        }
        self.seen.join("\n")
    }

    /// Sends SIGINT (a terminal's Ctrl-C) to the process, by its PID.
    pub fn interrupt(&self) {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -INT {} failed", self.child.id());
    }
}
