//! One shard of the swarm store: the swarms in a dense array and an open-addressing index of
//! their positions (4 bytes and a control byte a slot), so a swarm costs its 48 bytes, about 8
//! of index and its peers' arrays: no per-swarm allocation of its own, no key stored twice.

use hashbrown::HashTable;
use protocol::InfoHash;

use crate::swarm::Swarm;

/// The keyed hash of an info-hash (keyed per process: info-hashes are chosen by outsiders).
pub fn hash_of(h: &InfoHash, seed: u64) -> u64 {
    let word = |i: usize| u64::from_le_bytes(h.0[i..i + 8].try_into().unwrap_or_default());
    let tail = u64::from(u32::from_le_bytes(h.0[16..].try_into().unwrap_or_default()));
    let fold = |a: u64, b: u64| {
        let m = u128::from(a) * u128::from(b);
        (m as u64) ^ ((m >> 64) as u64)
    };
    fold(
        fold(word(0) ^ seed, word(8) ^ 0x9E37_79B9_7F4A_7C15) ^ tail,
        0xA076_1D64_78BD_642F,
    )
}

#[derive(Default)]
pub struct Shard {
    index: HashTable<u32>,
    swarms: Vec<Swarm>,
}

impl Shard {
    pub fn len(&self) -> usize {
        self.swarms.len()
    }

    /// Where the swarm of `h` (whose keyed hash is `hash`) is held.
    pub fn position(&self, h: &InfoHash, hash: u64) -> Option<usize> {
        let swarms = &self.swarms;
        let i = self.index.find(hash, |&i| swarms[i as usize].hash() == h)?;
        Some(*i as usize)
    }

    pub fn get(&self, h: &InfoHash, hash: u64) -> Option<&Swarm> {
        Some(&self.swarms[self.position(h, hash)?])
    }

    pub fn get_mut(&mut self, h: &InfoHash, hash: u64) -> Option<&mut Swarm> {
        let i = self.position(h, hash)?;
        Some(&mut self.swarms[i])
    }

    /// The swarm at a position [`Shard::position`] or [`Shard::insert`] gave.
    pub fn at_mut(&mut self, i: usize) -> &mut Swarm {
        &mut self.swarms[i]
    }

    /// Adds an empty swarm for `h` (not held yet); returns its position.
    pub fn insert(&mut self, h: InfoHash, hash: u64, seed: u64) -> usize {
        let Shard { index, swarms } = self;
        if swarms.len() == swarms.capacity() {
            // By an eighth rather than double: this array is most of a big tracker's memory.
            swarms.reserve_exact((swarms.len() / 8).max(16));
        }
        let i = swarms.len();
        swarms.push(Swarm::new(h));
        index.insert_unique(hash, i as u32, |&j| {
            hash_of(swarms[j as usize].hash(), seed)
        });
        i
    }

    /// Forgets the swarm of `h`, moving the last swarm into its place.
    pub fn remove(&mut self, h: &InfoHash, hash: u64, seed: u64) {
        let Shard { index, swarms } = self;
        let Ok(entry) = index.find_entry(hash, |&i| swarms[i as usize].hash() == h) else {
            return;
        };
        let (i, _) = entry.remove();
        let last = swarms.len() - 1;
        swarms.swap_remove(i as usize);
        if i as usize != last {
            let moved = hash_of(swarms[i as usize].hash(), seed);
            if let Some(slot) = index.find_mut(moved, |&j| j as usize == last) {
                *slot = i;
            }
        }
    }

    /// Keeps the swarms `keep` accepts (it may change them), then gives back spare room.
    pub fn retain(&mut self, seed: u64, mut keep: impl FnMut(&mut Swarm) -> bool) {
        let before = self.swarms.len();
        self.swarms.retain_mut(|s| keep(s));
        if self.swarms.len() == before {
            return;
        }
        let Shard { index, swarms } = self;
        if swarms.capacity() > swarms.len() + swarms.len() / 4 + 16 {
            swarms.shrink_to(swarms.len() + swarms.len() / 8);
        }
        // Positions moved: rebuild the index (a sweep's cost, once a minute).
        index.clear();
        index.shrink_to(swarms.len(), |&j| hash_of(swarms[j as usize].hash(), seed));
        for (i, s) in swarms.iter().enumerate() {
            index.insert_unique(hash_of(s.hash(), seed), i as u32, |&j| {
                hash_of(swarms[j as usize].hash(), seed)
            });
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &Swarm> {
        self.swarms.iter()
    }

    /// Bytes this shard holds on the heap: index, swarms and their peers.
    pub fn heap_bytes(&self) -> usize {
        self.index.allocation_size()
            + self.swarms.capacity() * std::mem::size_of::<Swarm>()
            + self.swarms.iter().map(Swarm::heap_bytes).sum::<usize>()
    }
}
