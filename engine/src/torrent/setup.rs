//! Setting a torrent up: its files laid out and resume data read, the disk thread started, the
//! core made, the announcer started, and the check (or trusted resume data) under way.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocol::session::{CoreConfig, TorrentCore};
use protocol::Lengths;
use tokio::sync::{mpsc, watch};

use super::status::piece_priorities;
use super::{
    announcer, metadata, peer_context, selection, sources, stream, Channels, SessionShared,
    Torrent, TorrentOptions, Wiring,
};
use crate::disk::{Disk, DiskJob, WriteBacklog};
use crate::disk_pool::DiskSender;
use crate::types::{EngineError, FilePriority, TorrentState, TorrentStatus};

impl Torrent {
    /// Sets the torrent up on existing channels; a magnet torrent hands over its connections
    /// and announcer (`handoff`) once the metadata is in.
    pub(super) fn build(
        shared: SessionShared,
        opts: TorrentOptions,
        wiring: Wiring,
        handoff: Option<metadata::Handoff>,
    ) -> Result<(Torrent, Channels), EngineError> {
        let Wiring {
            cmd_tx,
            cmd_rx,
            peer_tx,
            peer_rx,
            status_out,
            peers_out,
            upload_room,
        } = wiring;
        let metainfo = Arc::new(opts.metainfo);
        let info = &metainfo.info;
        let info_hash = metainfo.info_hash;
        if let Some(fp) = &opts.file_priorities {
            if fp.len() != info.files.len() {
                return Err(EngineError::BadFilePriorities {
                    got: fp.len(),
                    expected: info.files.len(),
                });
            }
        }
        let lengths = Lengths::new(info.total_length, info.piece_length, info.pieces.len())
            .map_err(|_| {
                EngineError::Unsupported("a torrent whose piece count does not match its length")
            })?;
        let resume_path = (shared.state_dir.as_deref())
            .map(|d| crate::resume::resume_path(d, info_hash, &opts.save_dir));
        let crate::resume::Placed {
            mut storage,
            record: resume,
            trusted,
        } = crate::resume::place(
            &opts.save_dir,
            info,
            shared.state_dir.as_deref(),
            resume_path.as_deref(),
            info_hash,
            lengths.piece_count(),
        )
        .map_err(|source| EngineError::Io {
            what: "laying out",
            path: opts.save_dir.clone(),
            source,
        })?;
        let save_path = storage.root().to_path_buf();
        // Totals belong to the torrent, not to its files: kept even from an untrusted record.
        let totals = resume.as_ref().map(|r| r.totals).unwrap_or_default();
        if let Some(parts) = resume_path.as_ref().map(|p| p.with_extension("parts")) {
            let skipped = selection::skipped(opts.file_priorities.as_deref(), info.files.len());
            let plen = u64::from(lengths.default_piece_len());
            (storage.use_part_file(&parts, plen, &skipped)).map_err(|source| EngineError::Io {
                what: "opening the part file",
                path: parts.clone(),
                source,
            })?;
        }

        let (disk_tx, disk_rx) = mpsc::unbounded_channel();
        let backlog = Arc::new(WriteBacklog::default());
        let targets = shared.targets;
        let disk = DiskSender::start(Disk::new(storage, info, lengths, disk_tx, backlog.clone()))
            .map_err(|source| EngineError::Io {
            what: "starting the disk thread for",
            path: save_path.clone(),
            source,
        })?;
        let mut ctx = peer_context(
            &shared,
            info_hash,
            lengths.piece_count(),
            peer_tx,
            upload_room,
        );
        if info.private {
            ctx.dht = None; // BEP 27: no DHT bit, no port messages
        }
        let piece_priorities =
            piece_priorities(&metainfo, &lengths, opts.file_priorities.as_deref());
        let now = Instant::now();
        let initial = TorrentStatus {
            name: info.name.clone(),
            uploaded: totals.uploaded,
            seeding_secs: totals.seeding_secs,
            total_bytes: info.total_length,
            save_path: save_path.clone(),
            ..TorrentStatus::empty(info_hash, TorrentState::Checking)
        };
        status_out.publish(initial);
        let (web_seed_timeout, down_limit) = (shared.web_seed_timeout, shared.down_limit.clone());
        let core_config = CoreConfig {
            our_id: shared.our_id,
            info_hash,
            upload_slots: shared.upload_slots,
            max_peers: shared.max_peers,
            max_peers_per_ip: shared.max_peers_per_ip,
        };
        let mut core = TorrentCore::new(core_config, lengths, rand::random(), now);
        core.set_upload_limited(shared.up_limit.is_limited());
        core.set_extensions(super::extensions(&shared, Some(metainfo.clone())));
        let mut torrent = Torrent {
            core,
            shared,
            metainfo: metainfo.clone(),
            lengths,
            piece_priorities,
            file_priorities: (opts.file_priorities.clone())
                .unwrap_or_else(|| vec![FilePriority::Normal; info.files.len()]),
            sequential: opts.sequential,
            ctx,
            conns: HashMap::new(),
            disk,
            backlog: backlog.clone(),
            state: TorrentState::Checking,
            checking_done: 0,
            paused: opts.paused,
            error: None,
            seed_goals: opts.seed_goals,
            seeding: Duration::from_secs(totals.seeding_secs),
            uploaded_before: totals.uploaded,
            saved_totals: totals,
            last_tick: now,
            closed_down: 0,
            closed_up: 0,
            down_rate: 0,
            up_rate: 0,
            resume_path,
            resume_dirty: false,
            saved_have: None,
            last_resume: now,
            completed_sent: false,
            finished_download: false,
            save_path,
            announce: None,
            added: sources::Added::new(cmd_tx.clone()),
            status_out: status_out.clone(),
            peers_out: peers_out.clone(),
            webseeds: crate::webseed::WebSeeds::new(
                metainfo.clone(),
                lengths,
                web_seed_timeout,
                down_limit,
                backlog.clone(),
                targets,
            ),
            streaming: stream::Streaming::default(),
            moving: None,
            moving_to: None,
            move_cancel: None,
        };
        let handed_announcer = match handoff {
            Some(h) => torrent.adopt(h),
            None => false,
        };
        torrent.add_candidates(opts.peers);
        let tiers = metainfo.tiers();
        if !tiers.is_empty() && !handed_announcer {
            let (tx, rx) = watch::channel(torrent.announce_stats(false));
            let setup = announcer::AnnouncerSetup {
                tiers,
                info_hash,
                peer_id: torrent.shared.our_id,
                port: torrent.shared.listen_port,
                ip: torrent.shared.announce_ip.clone(),
                targets: torrent.shared.targets,
            };
            let task = announcer::spawn(setup, rx, cmd_tx.clone());
            torrent.announce = Some((tx, task));
        }
        match trusted {
            Some(have) => {
                torrent.saved_have = Some(have.clone());
                torrent.checked(have)
            }
            None => {
                let recorded = resume.map(|r| r.files);
                let record_to = torrent.resume_path.clone();
                let _ = (torrent.disk).send(DiskJob::Check {
                    recorded,
                    record_to,
                });
            }
        }
        Ok((torrent, (cmd_rx, peer_rx, disk_rx)))
    }
}
