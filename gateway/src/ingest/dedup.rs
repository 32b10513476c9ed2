//! Duplicate detection by sequence number: a sliding window of the last [`WINDOW`] sequence
//! numbers per device, as in IPsec's anti-replay window. It is stored with the samples it
//! admitted, so a redelivery after a crash is recognised.
//!
//! A broker redelivers at most its in-flight window of unacknowledged messages, so the window must
//! be at least the broker's `max_inflight_messages` (the shipped mosquitto config uses 1000).

/// Sequence numbers remembered per device.
pub const WINDOW: u64 = 1024;
const WORDS: usize = (WINDOW / 64) as usize;

/// What a sequence number turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Not seen before; `gap` numbers were skipped since the highest one.
    New {
        /// Sequence numbers jumped over (possible loss).
        gap: u64,
    },
    /// Seen before: drop it.
    Duplicate,
    /// Far below the window: the device restarted its counter. Accepted; the window restarts.
    Restart,
}

/// The window: the highest sequence number and a bitmap of the ones below it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeqWindow {
    max: u64,
    /// Bit `i` set: `max - i` was seen.
    bits: [u64; WORDS],
}

impl SeqWindow {
    /// A window holding only `seq`.
    pub fn new(seq: u64) -> Self {
        let mut bits = [0; WORDS];
        bits[0] = 1;
        SeqWindow { max: seq, bits }
    }

    /// Classifies `seq` and remembers it.
    pub fn check(&mut self, seq: u64) -> Seen {
        if seq > self.max {
            let shift = seq - self.max;
            self.shift(shift);
            self.max = seq;
            self.bits[0] |= 1;
            return Seen::New { gap: shift - 1 };
        }
        let age = self.max - seq;
        if age >= WINDOW {
            *self = SeqWindow::new(seq);
            return Seen::Restart;
        }
        let (word, bit) = ((age / 64) as usize, age % 64);
        if self.bits[word] & (1 << bit) != 0 {
            Seen::Duplicate
        } else {
            self.bits[word] |= 1 << bit;
            Seen::New { gap: 0 }
        }
    }

    /// True when `seq` is older than the window remembers.
    pub fn is_below(&self, seq: u64) -> bool {
        seq + WINDOW <= self.max
    }

    fn shift(&mut self, n: u64) {
        if n >= WINDOW {
            self.bits = [0; WORDS];
            return;
        }
        let (words, bits) = ((n / 64) as usize, (n % 64) as u32);
        for w in (0..WORDS).rev() {
            let lo = w.checked_sub(words).map_or(0, |s| self.bits[s]);
            let carry = match w.checked_sub(words + 1) {
                Some(s) if bits > 0 => self.bits[s] >> (64 - bits),
                _ => 0,
            };
            self.bits[w] = (lo << bits) | carry;
        }
    }

    /// `max ‖ bits`, little-endian; trailing zero words are left out.
    pub fn to_bytes(&self) -> Vec<u8> {
        let used = self.bits.iter().rposition(|&w| w != 0).map_or(0, |i| i + 1);
        let mut out = Vec::with_capacity(8 + used * 8);
        out.extend_from_slice(&self.max.to_le_bytes());
        for w in &self.bits[..used] {
            out.extend_from_slice(&w.to_le_bytes());
        }
        out
    }

    /// Reads what [`SeqWindow::to_bytes`] wrote.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        let (max, rest) = b.split_at_checked(8)?;
        if rest.len() % 8 != 0 || rest.len() > WORDS * 8 {
            return None;
        }
        let mut bits = [0; WORDS];
        for (w, chunk) in bits.iter_mut().zip(rest.chunks_exact(8)) {
            *w = u64::from_le_bytes(chunk.try_into().ok()?);
        }
        Some(SeqWindow {
            max: u64::from_le_bytes(max.try_into().ok()?),
            bits,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn duplicates_gaps_and_restarts() {
        let mut w = SeqWindow::new(10);
        assert_eq!(w.check(10), Seen::Duplicate);
        assert_eq!(w.check(11), Seen::New { gap: 0 });
        assert_eq!(w.check(15), Seen::New { gap: 3 });
        assert_eq!(w.check(13), Seen::New { gap: 0 });
        assert_eq!(w.check(13), Seen::Duplicate);
        assert_eq!(w.check(15 + 2000), Seen::New { gap: 1999 });
        assert_eq!(w.check(1), Seen::Restart);
        assert_eq!(w.check(2), Seen::New { gap: 0 });
        assert_eq!(w.check(1), Seen::Duplicate);
    }

    proptest! {
        /// Against a plain set: within the window, the verdict is exact, whatever the order.
        #[test]
        fn agrees_with_a_set_within_the_window(seqs in proptest::collection::vec(0u64..3000, 1..400)) {
            let mut w = SeqWindow::new(seqs[0]);
            let mut seen = HashSet::from([seqs[0]]);
            let mut max = seqs[0];
            for &s in &seqs[1..] {
                let verdict = w.check(s);
                if s + WINDOW <= max {
                    prop_assert_eq!(verdict, Seen::Restart);
                    seen = HashSet::from([s]);
                    max = s;
                    continue;
                }
                prop_assert_eq!(verdict == Seen::Duplicate, seen.contains(&s), "seq {}", s);
                seen.insert(s);
                max = max.max(s);
                let back = SeqWindow::from_bytes(&w.to_bytes()).unwrap();
                prop_assert_eq!(&back, &w);
            }
        }
    }
}
