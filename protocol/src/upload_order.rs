//! What an upload-capped peer sends next. A publisher capped at a few MiB/s that serves requests
//! first come, first served spends its bytes on pieces the swarm already has: while requests
//! queue, other leechers spread those pieces among themselves. So a capped uploader sends first
//! the requested piece that is least spread (fewest peers holding it, fewest blocks of it already
//! sent), and a peer that asks only for pieces others hold waits while some peer asks for a piece
//! nobody has, unless it has waited too long: the leechers trade the common pieces themselves.

/// How widely one requested piece is already spread, as the uploader sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spread {
    /// Connected peers that announced the piece.
    pub holders: u32,
    /// Blocks of the piece we sent (to anyone) so far.
    pub blocks_sent: u32,
    pub blocks_in_piece: u32,
}

impl Spread {
    /// Lower is rarer: holders count whole pieces, blocks sent count as a share of one.
    pub fn weight(&self) -> u64 {
        u64::from(self.holders) * u64::from(self.blocks_in_piece) + u64::from(self.blocks_sent)
    }

    /// Nobody else holds it and we have not sent a whole copy of it yet.
    pub fn is_rare(&self) -> bool {
        self.holders == 0 && self.blocks_sent < self.blocks_in_piece
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadChoice {
    /// Send the waiting request at this position.
    Send(usize),
    /// Send this peer nothing for now.
    Wait,
}

/// Which of one peer's waiting requests (their spreads, in arrival order) to send next: the least
/// spread, the earliest among equals. When the best is not rare it waits while `rare_demand`
/// (another peer asks for a rare piece), unless `overdue` (it has waited long enough).
pub fn choose_upload(
    waiting: impl IntoIterator<Item = Spread>,
    rare_demand: bool,
    overdue: bool,
) -> UploadChoice {
    let mut best: Option<(usize, Spread)> = None;
    for (at, spread) in waiting.into_iter().enumerate() {
        if best.is_none_or(|(_, b)| spread.weight() < b.weight()) {
            best = Some((at, spread));
        }
    }
    match best {
        None => UploadChoice::Wait,
        Some((_, spread)) if !spread.is_rare() && rare_demand && !overdue => UploadChoice::Wait,
        Some((at, _)) => UploadChoice::Send(at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(holders: u32, blocks_sent: u32) -> Spread {
        Spread {
            holders,
            blocks_sent,
            blocks_in_piece: 4,
        }
    }

    #[test]
    fn the_least_spread_piece_goes_first_and_ties_keep_arrival_order() {
        assert_eq!(
            choose_upload([s(2, 0), s(0, 3), s(1, 0), s(0, 3)], false, false),
            UploadChoice::Send(1)
        );
        assert_eq!(
            choose_upload([s(1, 0), s(1, 0)], false, false),
            UploadChoice::Send(0)
        );
    }

    #[test]
    fn a_piece_sent_whole_once_is_no_longer_rare() {
        assert!(s(0, 3).is_rare());
        assert!(!s(0, 4).is_rare());
        assert!(!s(1, 0).is_rare());
    }

    #[test]
    fn common_pieces_wait_while_someone_needs_a_rare_one() {
        assert_eq!(
            choose_upload([s(2, 0), s(0, 4)], true, false),
            UploadChoice::Wait
        );
        // Nobody needs a rare piece: no reason to leave the upload idle.
        assert_eq!(
            choose_upload([s(2, 0), s(0, 4)], false, false),
            UploadChoice::Send(1)
        );
        // Waited long enough: served anyway, so nobody starves.
        assert_eq!(
            choose_upload([s(2, 0), s(0, 4)], true, true),
            UploadChoice::Send(1)
        );
        // Its own rare request goes whatever others want.
        assert_eq!(
            choose_upload([s(1, 0), s(0, 0)], true, false),
            UploadChoice::Send(1)
        );
    }

    #[test]
    fn nothing_waiting_sends_nothing() {
        assert_eq!(choose_upload([], true, true), UploadChoice::Wait);
    }
}
