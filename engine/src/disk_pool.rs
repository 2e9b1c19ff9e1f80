//! The threads that run every torrent's disk jobs. A torrent's jobs run in the order it sent
//! them, one at a time (its `Disk` is a lane); different torrents' lanes share a few threads.
//! One OS thread per torrent was what a daemon of 2,000 seeding torrents spent its start-up,
//! memory and shutdown on.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, OnceLock};

use crate::disk::{Disk, DiskJob};

/// Jobs a lane runs before it yields its thread to the next lane waiting.
const BATCH: usize = 64;

/// Threads in the pool: enough that a long hash check or a slow disk does not hold every
/// other torrent up, few enough that thousands of torrents cost a handful of stacks.
fn thread_count() -> usize {
    std::thread::available_parallelism().map_or(4, |n| (n.get() * 2).clamp(4, 16))
}

struct Lane {
    state: Mutex<LaneState>,
    /// Taken by the one thread running this lane's jobs.
    disk: Mutex<Disk>,
}

#[derive(Default)]
struct LaneState {
    jobs: VecDeque<DiskJob>,
    /// In the pool's ready queue or being run: a new job must not schedule it again.
    scheduled: bool,
    /// The disk stopped (`DiskJob::Stop` ran): later jobs are dropped.
    stopped: bool,
}

struct Pool {
    ready: Mutex<VecDeque<Arc<Lane>>>,
    wake: Condvar,
    /// Threads that started.
    threads: std::sync::atomic::AtomicUsize,
}

fn pool() -> &'static Arc<Pool> {
    static POOL: OnceLock<Arc<Pool>> = OnceLock::new();
    POOL.get_or_init(|| {
        let pool = Arc::new(Pool {
            ready: Mutex::new(VecDeque::new()),
            wake: Condvar::new(),
            threads: Default::default(),
        });
        for i in 0..thread_count() {
            let p = pool.clone();
            // A pool that cannot start every thread runs on the ones it has; with none,
            // `DiskSender::start` fails.
            let started = std::thread::Builder::new()
                .name(format!("swarmlink-disk-{i}"))
                .spawn(move || p.work());
            if started.is_ok() {
                pool.threads
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        pool
    })
}

impl Pool {
    fn work(&self) {
        loop {
            let lane = {
                let Ok(mut ready) = self.ready.lock() else {
                    return;
                };
                loop {
                    if let Some(lane) = ready.pop_front() {
                        break lane;
                    }
                    ready = match self.wake.wait(ready) {
                        Ok(r) => r,
                        Err(_) => return,
                    };
                }
            };
            self.run(lane);
        }
    }

    /// Runs up to `BATCH` of the lane's jobs, then puts it back in line if it has more.
    fn run(&self, lane: Arc<Lane>) {
        let batch: Vec<DiskJob> = match lane.state.lock() {
            Ok(mut s) => {
                let n = s.jobs.len().min(BATCH);
                s.jobs.drain(..n).collect()
            }
            Err(_) => return,
        };
        if let Ok(mut disk) = lane.disk.lock() {
            for job in batch {
                if disk.run_job(job).is_break() {
                    if let Ok(mut s) = lane.state.lock() {
                        s.stopped = true;
                        s.jobs.clear();
                    }
                    break;
                }
            }
        }
        let again = match lane.state.lock() {
            Ok(mut s) => {
                s.scheduled = !s.jobs.is_empty() && !s.stopped;
                s.scheduled
            }
            Err(_) => false,
        };
        if again {
            self.schedule(lane);
        }
    }

    fn schedule(&self, lane: Arc<Lane>) {
        if let Ok(mut ready) = self.ready.lock() {
            ready.push_back(lane);
            self.wake.notify_one();
        }
    }
}

/// The disk has stopped: the job was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskStopped;

/// A torrent's way to its disk lane; cloning it shares the lane.
#[derive(Clone)]
pub struct DiskSender {
    lane: Arc<Lane>,
}

impl DiskSender {
    /// Puts `disk` on the pool (starting the pool's threads on first use).
    pub fn start(disk: Disk) -> std::io::Result<DiskSender> {
        if pool().threads.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            return Err(std::io::Error::other("no disk thread could be started"));
        }
        Ok(DiskSender {
            lane: Arc::new(Lane {
                state: Mutex::new(LaneState::default()),
                disk: Mutex::new(disk),
            }),
        })
    }

    /// Queues a job behind the lane's earlier ones (dropped if the disk has stopped).
    pub fn send(&self, job: DiskJob) -> Result<(), DiskStopped> {
        let schedule = {
            let Ok(mut s) = self.lane.state.lock() else {
                return Err(DiskStopped);
            };
            if s.stopped {
                return Err(DiskStopped);
            }
            s.jobs.push_back(job);
            !std::mem::replace(&mut s.scheduled, true)
        };
        if schedule {
            pool().schedule(self.lane.clone());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use protocol::wire::BlockRef;
    use protocol::{Lengths, MetainfoBuilder};
    use sha1::{Digest, Sha1};
    use tokio::sync::mpsc;

    use super::DiskSender;
    use crate::disk::{Disk, DiskEvent, DiskJob, WriteBacklog};
    use crate::storage::Storage;

    /// Disk threads of this process (other tests' threads come and go meanwhile).
    fn disk_threads() -> usize {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
            return 0;
        };
        tasks
            .flatten()
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|name| name.starts_with("swarmlink-disk"))
            })
            .count()
    }

    /// Three hundred torrents' disks answer their reads in order, on a handful of threads
    /// (one thread per torrent would add three hundred).
    #[tokio::test]
    async fn many_disks_share_a_few_threads_and_each_keeps_its_order() {
        const PIECE: usize = 16384;
        let dir = tempfile::tempdir().unwrap();
        let mut lanes = Vec::new();
        for t in 0..300u32 {
            let sub = dir.path().join(t.to_string());
            std::fs::create_dir_all(&sub).unwrap();
            let data: Vec<u8> = (0..2 * PIECE).map(|i| (i as u32 * 7 + t) as u8).collect();
            std::fs::write(sub.join("f.bin"), &data).unwrap();
            let pieces = data.chunks(PIECE).map(|c| Sha1::digest(c).into()).collect();
            let info = MetainfoBuilder::single_file("f.bin", data.len() as u64)
                .piece_length(PIECE as u64)
                .pieces(pieces)
                .build()
                .unwrap()
                .metainfo
                .info;
            let lengths = Lengths::new(info.total_length, info.piece_length, 2).unwrap();
            let storage = Storage::new(&sub, &info).unwrap();
            let (tx, rx) = mpsc::unbounded_channel();
            let backlog = Arc::new(WriteBacklog::default());
            let disk = DiskSender::start(Disk::new(storage, &info, lengths, tx, backlog)).unwrap();
            for (key, piece) in [(1, 0), (2, 1), (3, 0)] {
                let block = BlockRef {
                    piece,
                    begin: 0,
                    length: PIECE as u32,
                };
                let block = lengths.validate_request(block).unwrap();
                disk.send(DiskJob::Read { key, block }).unwrap();
            }
            lanes.push((disk, rx, data));
        }
        let threads = disk_threads();
        assert!(threads <= 16, "{threads} disk threads for 300 disks");
        for (_disk, mut rx, data) in lanes {
            for want in [1u64, 2, 3] {
                let ev = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                    .await
                    .expect("the disk answers")
                    .expect("the lane is alive");
                let DiskEvent::ReadDone {
                    key,
                    block,
                    data: got,
                } = ev
                else {
                    panic!("expected a read");
                };
                assert_eq!(key, want, "jobs run in the order sent");
                let at = block.piece.get() as usize * PIECE;
                assert_eq!(&got[..], &data[at..at + PIECE]);
            }
        }
    }
}
