//! nginx (Debian `nginx-light`) as a real web seed: the same static file server people put
//! `url-list` URLs on. Run in the foreground on a free loopback port, killed when dropped.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use swarmlink_tests::KillOnDrop;

pub struct Nginx {
    pub url: String,
    pub child: KillOnDrop,
}

/// Serves `root` over HTTP on 127.0.0.1; `work` holds its config, logs and temp files.
pub fn start(root: &Path, work: &Path) -> Nginx {
    std::fs::create_dir_all(work.join("tmp")).unwrap();
    // nginx's workers drop to `nobody` when started as root: they must be able to read.
    allow_others(root);
    // nginx cannot report a port it chose: take a free one (the race is harmless on loopback).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = work.display();
    let conf = format!(
        "worker_processes 1;\ndaemon off;\npid {w}/nginx.pid;\nerror_log {w}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{\n  access_log {w}/access.log;\n  client_body_temp_path {w}/tmp;\n  \
         proxy_temp_path {w}/tmp;\n  fastcgi_temp_path {w}/tmp;\n  uwsgi_temp_path {w}/tmp;\n  \
         scgi_temp_path {w}/tmp;\n  sendfile on;\n  \
         server {{ listen 127.0.0.1:{port}; root {}; }}\n}}\n",
        root.display()
    );
    let conf_path = work.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let child = Command::new("nginx")
        .arg("-c")
        .arg(&conf_path)
        .arg("-p")
        .arg(work)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx is installed (scripts/install-test-deps.sh: nginx-light)");
    let child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not listen on {port}: {}",
            std::fs::read_to_string(work.join("error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Nginx {
        url: format!("http://127.0.0.1:{port}/"),
        child,
    }
}

/// The access log's request lines (`GET /path HTTP/1.1`).
pub fn requests(work: &Path) -> Vec<String> {
    std::fs::read_to_string(work.join("access.log"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split('"').nth(1).map(str::to_owned))
        .collect()
}

/// Makes `dir` and its ancestors traversable and its tree readable by other users.
fn allow_others(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for a in dir.ancestors() {
        if let Ok(m) = std::fs::metadata(a) {
            let mode = m.permissions().mode();
            if mode & 0o005 != 0o005
                && a.starts_with(std::env::temp_dir())
                && a != std::env::temp_dir()
            {
                let _ = std::fs::set_permissions(a, std::fs::Permissions::from_mode(mode | 0o755));
            }
        }
    }
    for entry in walk(dir) {
        let mode = std::fs::metadata(&entry).unwrap().permissions().mode();
        let _ = std::fs::set_permissions(&entry, std::fs::Permissions::from_mode(mode | 0o755));
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
