//! `btpublish [OPTIONS] FILE...`: hash, write the `.torrent`s, start seeding, register at the
//! tracker (retrying while it is down), then show peers every second until Ctrl-C.

use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use engine::{AddTorrent, EngineError, Session, SessionConfig};
use protocol::InfoHash;

use crate::cli::PublishArgs;
use crate::display::torrent_lines;
use crate::make::{Made, MakeError};
use crate::register::{announce_url, Publication, RegisterError, Registrar};
use crate::run_make::{make_options, make_with_bar, print_made};
use crate::source::{FileStamp, Source};
use crate::trust::{write_verified, StateDir};

/// How long one publish request may take.
const REGISTER_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest wait between attempts while the tracker is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// How long after a file changed we keep having the engine look at it (longer than the engine's
/// `SETTLE`, so its second look is asked for).
const LOOK_AGAIN: Duration = Duration::from_secs(3);
/// How often we check that the tracker still lists us.
const LISTING_CHECK: Duration = Duration::from_secs(60);

/// One source being published.
struct Published {
    source: Source,
    made: Made,
    /// The directory the engine finds the torrent's file or directory in.
    save_dir: PathBuf,
    /// False once none of its pieces is served any more (its data changed).
    serving: bool,
    /// Each file's size and mtime when last looked at (`None`: missing), in torrent order.
    seen: Vec<Option<FileStamp>>,
    /// Until when the engine looks at the files again after a change (see [`check_changes`]).
    look_again_until: Option<tokio::time::Instant>,
    publication: Option<Publication>,
}

pub fn run(args: PublishArgs) -> anyhow::Result<()> {
    let Some(location) = args.location.clone() else {
        bail!("--location URL (the tracker's publish URL) is required to publish; `btpublish make` only writes a .torrent");
    };
    if args.files.is_empty() {
        bail!("nothing to publish: name one or more files or directories (see --help)");
    }
    let announce = announce_url(&location)?;
    let options = make_options(&args.torrent, Some(announce));
    let mut items = Vec::new();
    for path in &args.files {
        let (out, save_dir) = torrent_path(path, args.torrent_dir.as_deref())?;
        let (source, made) = make_with_bar(path, &options, &out).map_err(|e| {
            match e.downcast_ref::<MakeError>() {
                Some(MakeError::Write { .. }) if args.torrent_dir.is_none() => {
                    e.context("the source's directory is not writable: give --torrent-dir DIR")
                }
                _ => e,
            }
        })?;
        print_made(&made);
        let seen = source.files.iter().map(|f| Some(f.stamp)).collect();
        items.push(Published {
            seen,
            look_again_until: None,
            source,
            made,
            save_dir,
            serving: true,
            publication: None,
        });
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?
        .block_on(seed(args, location, items))
}

/// Where the `.torrent` of `path` goes (`NAME.torrent` beside it or in `torrent_dir`) and the
/// directory that holds the source.
fn torrent_path(path: &Path, torrent_dir: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let absolute = std::fs::canonicalize(path)
        .map_err(|_| crate::source::SourceError::Missing(path.to_path_buf()))?;
    let (Some(parent), Some(name)) = (absolute.parent(), absolute.file_name()) else {
        bail!("{}: cannot publish a filesystem root", path.display());
    };
    let mut file_name = name.to_os_string();
    file_name.push(".torrent");
    let dir = torrent_dir.unwrap_or(parent);
    Ok((dir.join(file_name), parent.to_path_buf()))
}

async fn seed(
    args: PublishArgs,
    location: String,
    mut items: Vec<Published>,
) -> anyhow::Result<()> {
    let listen = SocketAddr::from(([0, 0, 0, 0], args.port));
    let state = StateDir::create().context("cannot create a state directory")?;
    let session = Session::start(SessionConfig {
        listen,
        state_dir: Some(state.path().to_path_buf()),
        upload_rate_limit: args.upload_rate,
        upload_slots: args.max_uploads.max(1),
        announce_ip: args.ip.clone(),
        encryption: args.encryption,
        port_mapping: !args.no_port_mapping,
        utp: !args.no_utp,
        ..SessionConfig::default()
    })
    .await
    .map_err(|e| match e {
        EngineError::Listen { source, .. } if source.kind() == std::io::ErrorKind::AddrInUse => {
            anyhow::anyhow!(
                "port {} is already in use: choose another --port",
                args.port
            )
        }
        other => anyhow::Error::new(other).context(format!("cannot listen on port {}", args.port)),
    })?;
    let port = session.local_addr().port();
    println!("listening for peers on port {port}");
    let registrar = Registrar::new(&location, REGISTER_TIMEOUT)?;
    // One listener from here to the end: a Ctrl-C between two waits is not lost.
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    // Published first, announced after: the tracker refuses announces for torrents it does not
    // list, and the engine would wait out a failed announce's back-off before trying again.
    let outcome = tokio::select! {
        outcome = register_all(&registrar, &args, port, &mut items) => outcome,
        () = &mut shutdown => Err(anyhow::anyhow!("interrupted before the tracker answered")),
    };
    if let Err(e) = outcome {
        session.shutdown().await;
        return Err(e);
    }
    let mut hashes: Vec<InfoHash> = Vec::new();
    for item in &items {
        let torrent = &item.made.torrent;
        // We hashed these bytes (or the cache vouched for them): the engine need not read them
        // again before seeding. If this fails the engine simply checks them itself.
        if let Err(e) = write_verified(
            state.path(),
            &torrent.metainfo,
            &item.save_dir,
            &item.source,
        ) {
            tracing::warn!("cannot record the verified pieces, the engine will check them: {e}");
        }
        let mut add = AddTorrent::metainfo(torrent.metainfo.clone());
        add.save_dir = Some(item.save_dir.clone());
        match session.add(add).await {
            Ok(ih) => hashes.push(ih),
            Err(e) => {
                session.shutdown().await;
                return Err(anyhow::Error::new(e)
                    .context(format!("cannot seed {}", item.source.root.display())));
            }
        }
    }
    let outcome = tokio::select! {
        outcome = serve(&session, &registrar, &args, port, &mut items, &hashes) => outcome,
        () = &mut shutdown => Ok(()),
    };
    eprintln!("btpublish: stopping (telling the tracker)");
    session.shutdown().await;
    outcome
}

/// Registers every torrent, retrying while the tracker is unreachable or failing.
async fn register_all(
    registrar: &Registrar,
    args: &PublishArgs,
    port: u16,
    items: &mut [Published],
) -> anyhow::Result<()> {
    for item in items.iter_mut() {
        let publication = register_with_retry(registrar, args, port, &item.made).await?;
        println!(
            "{}: {}",
            item.made.torrent.metainfo.info.name, publication.url
        );
        item.publication = Some(publication);
    }
    Ok(())
}

async fn register_with_retry(
    registrar: &Registrar,
    args: &PublishArgs,
    port: u16,
    made: &Made,
) -> anyhow::Result<Publication> {
    let mut backoff = Duration::from_secs(1);
    loop {
        match registrar
            .publish(
                &made.torrent.bytes,
                port,
                args.ip.as_deref(),
                args.key.as_deref(),
            )
            .await
        {
            Ok(publication) => return Ok(publication),
            Err(e) if e.is_retryable() => {
                eprintln!(
                    "btpublish: {e}; retrying in {} s (Ctrl-C to give up)",
                    backoff.as_secs()
                );
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e @ RegisterError::Refused { .. }) => {
                return Err(anyhow::Error::new(e).context(format!(
                    "cannot publish {}",
                    made.torrent.metainfo.info.name
                )))
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Seeds until cancelled: every second, has the engine re-check the files that changed (see
/// [`check_changes`]) and redraws the peers; every minute, checks that the tracker still lists each torrent and re-publishes it if
/// it forgot.
async fn serve(
    session: &Session,
    registrar: &Registrar,
    args: &PublishArgs,
    port: u16,
    items: &mut [Published],
    hashes: &[InfoHash],
) -> anyhow::Result<()> {
    let terminal = std::io::stdout().is_terminal();
    let mut drawn_lines = 0usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_check = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        for (item, ih) in items.iter_mut().zip(hashes) {
            if item.serving && check_changes(session, item, *ih).await {
                drawn_lines = 0;
            }
        }
        if items.iter().all(|i| !i.serving) {
            bail!("every published source changed on disk; nothing left to seed");
        }
        if last_check.elapsed() >= LISTING_CHECK {
            last_check = tokio::time::Instant::now();
            for item in items.iter_mut().filter(|i| i.serving) {
                if tracker_forgot(registrar, item).await {
                    eprintln!(
                        "btpublish: the tracker no longer lists {}; publishing it again",
                        item.made.torrent.metainfo.info.name
                    );
                    match registrar
                        .publish(
                            &item.made.torrent.bytes,
                            port,
                            args.ip.as_deref(),
                            args.key.as_deref(),
                        )
                        .await
                    {
                        Ok(publication) => item.publication = Some(publication),
                        Err(e) => eprintln!("btpublish: re-publishing failed: {e}"),
                    }
                }
            }
        }
        if terminal {
            let mut lines = Vec::new();
            for (item, ih) in items.iter().zip(hashes) {
                if let (true, Some(status)) = (item.serving, session.status(*ih)) {
                    lines.extend(torrent_lines(&status, &session.peers(*ih)));
                }
            }
            let mut out = std::io::stdout().lock();
            if drawn_lines > 0 {
                // Back over the previous screen, then clear to the end.
                let _ = write!(out, "\x1b[{drawn_lines}A\x1b[J");
            }
            for line in &lines {
                let _ = writeln!(out, "{line}");
            }
            let _ = out.flush();
            drawn_lines = lines.len();
        }
    }
}

/// When a file's size or mtime moved, the engine hashes that file's pieces again on its disk
/// thread and withdraws those that no longer match (it also catches a change itself before
/// serving a read, and tells us here). For [`LOOK_AGAIN`] after a change we keep asking: a write
/// moves the mtime before its bytes land, and the engine hashes a recently changed file once
/// more. Says which file changed and how many pieces peers no longer get; returns whether
/// anything was printed.
async fn check_changes(session: &Session, item: &mut Published, ih: InfoHash) -> bool {
    let now: Vec<Option<FileStamp>> = item
        .source
        .files
        .iter()
        .map(|f| FileStamp::read(&f.path).ok())
        .collect();
    let clock = tokio::time::Instant::now();
    if now != item.seen {
        item.seen = now;
        item.look_again_until = Some(clock + LOOK_AGAIN);
    } else if item.look_again_until.is_some_and(|t| clock < t) {
        // still settling: ask again
    } else {
        item.look_again_until = None;
        return false;
    }
    let changed = match session.recheck_changed_files(ih).await {
        Ok(changed) => changed,
        Err(e) => {
            tracing::warn!("cannot re-check {}: {e}", item.source.root.display());
            return false;
        }
    };
    for file in &changed {
        eprintln!(
            "{}",
            change_message(
                &file.path,
                file.mismatched.len(),
                file.pieces_checked,
                &item.made.path
            )
        );
    }
    if session.status(ih).is_some_and(|s| s.have_bytes == 0) {
        item.serving = false;
        eprintln!(
            "btpublish: nothing of {} matches {} any more; no longer serving it",
            item.source.root.display(),
            item.made.path.display()
        );
    }
    !changed.is_empty()
}

fn change_message(path: &Path, mismatched: usize, checked: u32, torrent: &Path) -> String {
    if mismatched == 0 {
        format!(
            "btpublish: {} changed: every one of its {checked} pieces still matches; all still served",
            path.display()
        )
    } else {
        format!(
            "btpublish: {} changed: {mismatched} pieces no longer served (of its {checked}; they no longer match {}; run btpublish again to publish the new version)",
            path.display(),
            torrent.display()
        )
    }
}

/// True when the tracker answers 404 for the torrent it gave us; a tracker that is down or slow
/// has not forgotten anything.
async fn tracker_forgot(registrar: &Registrar, item: &Published) -> bool {
    let Some(publication) = &item.publication else {
        return true;
    };
    let url = publication
        .torrent_url
        .as_deref()
        .unwrap_or(&publication.url);
    matches!(registrar.get(url).await, Ok((404, _)))
}

/// Ctrl-C, or SIGTERM from a service manager.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
