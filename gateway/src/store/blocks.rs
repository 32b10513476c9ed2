//! Telemetry in blocks, partitioned by day. A block holds the samples of one device and one UTC
//! day, at most [`BLOCK_BYTES`] of them, under the key `T ‖ day ‖ device ‖ start ts ‖ start seq`.
//! A sample joins the block of its day that starts latest at or before its time while that block
//! has room; otherwise it starts a new block, so late samples need no special case.
//!
//! Why blocks: sled keeps per-page bookkeeping in memory, and one key per sample made an idle hub
//! with a 1 GB store hold over 100 MiB. A block of ~150 samples is one key. Inside a block a
//! sample is a few varints: time, sequence and receive time as deltas, reading names as indexes
//! into the block's own name table; 14 bytes for a typical two-reading sample.
//!
//! Why days first: sled holds every page it reads until its cache accounting catches up (256
//! shards, each settling its accounting every 64 reads), so a pass that reads one page per device
//! kept ~220 MiB resident for 20,000 devices whatever `cache_capacity` said. With the day leading
//! the key, retention deletes whole days from the front of the tree and reads nothing else, and
//! one day's blocks of all devices sit together. A device's history is one short range per day.
//!
//! Value: `format (1) ‖ latest ts (u64 BE) ‖ records`. Record: `varint (count << 1 | has device
//! seq) ‖ zigzag Δts ‖ zigzag Δseq ‖ zigzag (recv - ts) ‖ count × (varint name ref [‖ varint len ‖
//! name when new] ‖ value)`.

use std::collections::BTreeMap;

use linli_protocols::Values;

use super::codec::{self, day, day_end, day_start, get_varint, put_varint, unzigzag, zigzag};
use super::records::Sample;
use super::{Page, Result, Store, StoreError, TimeRange, io};

/// A block stops taking samples at this size.
pub const BLOCK_BYTES: usize = 2048;

const FORMAT: u8 = 1;
/// `FORMAT ‖ latest ts (u64 big-endian)`: a read skips a block that ends before its window
/// without decoding it.
const HEADER: usize = 9;

/// A sample as filed: `seq` orders samples of the same ms and is the device's when `device_seq`,
/// else a hub tie-breaker.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Sample time, ms.
    pub ts: u64,
    /// Ordering sequence.
    pub seq: u64,
    /// True when `seq` came from the device.
    pub device_seq: bool,
    /// Hub receive time, ms.
    pub recv: u64,
    /// The readings.
    pub values: Values,
}

impl Row {
    fn key(&self) -> (u64, u64) {
        (self.ts, self.seq)
    }

    fn into_sample(self) -> Sample {
        Sample {
            ts: self.ts,
            seq: self.device_seq.then_some(self.seq),
            recv: self.recv,
            values: self.values,
        }
    }
}

/// A block being appended to: its bytes plus what encoding the next record needs.
#[derive(Debug)]
struct Block {
    start: (u64, u64),
    bytes: Vec<u8>,
    names: Vec<String>,
    prev: (u64, u64),
}

impl Block {
    fn new(start: (u64, u64)) -> Block {
        let mut bytes = Vec::with_capacity(BLOCK_BYTES + 64);
        bytes.push(FORMAT);
        bytes.extend_from_slice(&start.0.to_be_bytes());
        Block {
            start,
            bytes,
            names: Vec::new(),
            prev: start,
        }
    }

    /// Reopens a stored block for appending.
    fn reopen(start: (u64, u64), bytes: &[u8]) -> Option<Block> {
        let mut reader = Reader::new(start, bytes)?;
        while !reader.rest.is_empty() {
            reader.step_over()?;
        }
        let (names, prev) = (reader.names, reader.prev);
        let mut stored = Vec::with_capacity(BLOCK_BYTES + 64);
        stored.extend_from_slice(bytes);
        Some(Block {
            start,
            bytes: stored,
            names,
            prev,
        })
    }

    fn accepts(&self, ts: u64) -> bool {
        self.bytes.len() < BLOCK_BYTES && ts >= self.start.0 && day(ts) == day(self.start.0)
    }

    fn push(&mut self, row: &Row) {
        let out = &mut self.bytes;
        let count = row.values.len().min(usize::from(u8::MAX));
        put_varint(out, (count as u64) << 1 | u64::from(row.device_seq));
        put_varint(out, zigzag(row.ts.wrapping_sub(self.prev.0) as i64));
        put_varint(out, zigzag(row.seq.wrapping_sub(self.prev.1) as i64));
        put_varint(out, zigzag(row.recv.wrapping_sub(row.ts) as i64));
        for (name, value) in row.values.iter().take(count) {
            match self.names.iter().position(|n| n == name) {
                Some(i) => put_varint(out, i as u64),
                None => {
                    put_varint(out, self.names.len() as u64);
                    put_varint(out, name.len() as u64);
                    out.extend_from_slice(name.as_bytes());
                    self.names.push(name.clone());
                }
            }
            codec::encode_value(value, out);
        }
        self.prev = row.key();
        if row.ts > latest(&self.bytes).unwrap_or(0) {
            self.bytes[1..HEADER].copy_from_slice(&row.ts.to_be_bytes());
        }
    }
}

/// The latest sample time of a block, from its header.
fn latest(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.get(1..HEADER)?.try_into().ok()?))
}

/// Decodes a block's records in stored order.
#[derive(Debug)]
struct Reader<'a> {
    rest: &'a [u8],
    names: Vec<String>,
    prev: (u64, u64),
}

impl<'a> Reader<'a> {
    fn new(start: (u64, u64), bytes: &'a [u8]) -> Option<Reader<'a>> {
        let rest = bytes.get(HEADER..)?;
        (bytes[0] == FORMAT).then_some(Reader {
            rest,
            names: Vec::new(),
            prev: start,
        })
    }

    /// Steps over one record, keeping only the name table and the deltas' base.
    fn step_over(&mut self) -> Option<()> {
        let b = &mut self.rest;
        let head = get_varint(b)?;
        let ts = self.prev.0.wrapping_add(unzigzag(get_varint(b)?) as u64);
        let seq = self.prev.1.wrapping_add(unzigzag(get_varint(b)?) as u64);
        get_varint(b)?;
        for _ in 0..head >> 1 {
            let i = usize::try_from(get_varint(b)?).ok()?;
            if i == self.names.len() {
                self.names.push(codec::get_str(b)?.to_string());
            } else if i > self.names.len() {
                return None;
            }
            codec::skip_value(b)?;
        }
        self.prev = (ts, seq);
        Some(())
    }

    fn record(&mut self) -> Option<Row> {
        let b = &mut self.rest;
        let head = get_varint(b)?;
        let ts = self.prev.0.wrapping_add(unzigzag(get_varint(b)?) as u64);
        let seq = self.prev.1.wrapping_add(unzigzag(get_varint(b)?) as u64);
        let recv = ts.wrapping_add(unzigzag(get_varint(b)?) as u64);
        let mut values = Values::new();
        for _ in 0..head >> 1 {
            let i = usize::try_from(get_varint(b)?).ok()?;
            if i == self.names.len() {
                self.names.push(codec::get_str(b)?.to_string());
            }
            let name = self.names.get(i)?.clone();
            values.insert(name, codec::decode_value(b)?);
        }
        self.prev = (ts, seq);
        Some(Row {
            ts,
            seq,
            device_seq: head & 1 == 1,
            recv,
            values,
        })
    }
}

impl Iterator for Reader<'_> {
    /// `None` inside marks corrupt bytes; iteration stops after it.
    type Item = Option<Row>;

    fn next(&mut self) -> Option<Option<Row>> {
        if self.rest.is_empty() {
            return None;
        }
        let row = self.record();
        if row.is_none() {
            self.rest = &[];
        }
        Some(row)
    }
}

/// The records of a block up to any corrupt byte, without decoding their readings.
fn count_rows(start: (u64, u64), bytes: &[u8]) -> u64 {
    let Some(mut reader) = Reader::new(start, bytes) else {
        return 0;
    };
    let mut n = 0;
    while !reader.rest.is_empty() && reader.step_over().is_some() {
        n += 1;
    }
    n
}

fn corrupt(id: &str, start: (u64, u64)) -> StoreError {
    StoreError::Corrupt {
        tree: "series",
        detail: format!("block of {id} at {}.{}", start.0, start.1),
    }
}

fn rows(id: &str, start: (u64, u64), bytes: &[u8]) -> Result<Vec<Row>> {
    Reader::new(start, bytes)
        .ok_or_else(|| corrupt(id, start))?
        .map(|row| row.ok_or_else(|| corrupt(id, start)))
        .collect()
}

/// `T ‖ day of start (u32 BE) ‖ len(id) ‖ id ‖ start ts ‖ start seq`. Every sample of a block
/// lies in the UTC day of the block's start.
fn block_key(kind: u8, id: &str, start: (u64, u64)) -> Vec<u8> {
    let mut k = codec::device_day_key(kind, day(start.0), id);
    k.extend_from_slice(&start.0.to_be_bytes());
    k.extend_from_slice(&start.1.to_be_bytes());
    k
}

/// The day and start of a block key.
fn split_block_key(k: &[u8]) -> Option<(u32, (u64, u64))> {
    let day = codec::key_day(k)?;
    let len = usize::from(*k.get(5)?);
    let start = k.get(6 + len..)?;
    let ts = u64::from_be_bytes(start.get(..8)?.try_into().ok()?);
    let seq = u64::from_be_bytes(start.get(8..16)?.try_into().ok()?);
    Some((day, (ts, seq)))
}

/// The keys of the blocks of `id` starting in `day` from `from` up to `to` (ms, clamped to the
/// day).
fn blocks_of(
    kind: u8,
    id: &str,
    day: u32,
    from: u64,
    to: u64,
) -> std::ops::RangeInclusive<Vec<u8>> {
    block_key(kind, id, (from.max(day_start(day)), 0))
        ..=block_key(kind, id, (to.min(day_end(day)), u64::MAX))
}

impl Store {
    /// Files rows of one device (telemetry samples, or events as rows: `kind` is the key
    /// prefix) into blocks, adding the changed blocks to `batch`. The caller holds the block lock
    /// until the batch is applied.
    pub(super) fn file_rows(
        &self,
        kind: u8,
        id: &str,
        rows: &[Row],
        batch: &mut sled::Batch,
    ) -> Result<()> {
        let mut open: BTreeMap<(u64, u64), Block> = BTreeMap::new();
        // The block that takes the batch's latest row, looked up once: rows of its day at or after
        // its start (all of them, unless some are late) need no other lookup.
        let latest_ts = rows.iter().map(|r| r.ts).max().unwrap_or(0);
        let newest = self.block_at_or_before(kind, id, latest_ts)?;
        for row in rows {
            let touched = open
                .range((day_start(day(row.ts)), 0)..=(row.ts, u64::MAX))
                .next_back()
                .map(|(k, _)| *k);
            let stored = match &newest {
                Some((start, bytes)) if start.0 <= row.ts && day(start.0) == day(row.ts) => {
                    Some((*start, bytes.clone()))
                }
                _ => self.block_at_or_before(kind, id, row.ts)?,
            };
            let latest = match (touched, stored) {
                (Some(t), Some((s, _))) if t >= s => Some(t),
                (_, Some((s, bytes))) => {
                    let block = Block::reopen(s, &bytes).ok_or_else(|| corrupt(id, s))?;
                    open.insert(s, block);
                    Some(s)
                }
                (t, None) => t,
            };
            match latest
                .and_then(|k| open.get_mut(&k))
                .filter(|b| b.accepts(row.ts))
            {
                Some(block) => block.push(row),
                None => {
                    let start = self.free_start(kind, id, row.key(), &open)?;
                    let mut block = Block::new(start);
                    block.push(row);
                    open.insert(start, block);
                }
            }
        }
        for (start, block) in open {
            batch.insert(block_key(kind, id, start), block.bytes);
        }
        Ok(())
    }

    /// The stored block of `id` in the day of `ts` starting latest at or before `ts`.
    #[allow(clippy::type_complexity)]
    fn block_at_or_before(
        &self,
        kind: u8,
        id: &str,
        ts: u64,
    ) -> Result<Option<((u64, u64), sled::IVec)>> {
        let range = blocks_of(kind, id, day(ts), 0, ts);
        let Some(kv) = self.series.range(range).next_back() else {
            return Ok(None);
        };
        let (k, v) = kv.map_err(io("read blocks"))?;
        let (_, start) = split_block_key(&k).ok_or_else(|| corrupt(id, (ts, 0)))?;
        Ok(Some((start, v)))
    }

    /// `want`, or the next sequence at the same ms that no block of `id` starts at.
    fn free_start(
        &self,
        kind: u8,
        id: &str,
        mut want: (u64, u64),
        open: &BTreeMap<(u64, u64), Block>,
    ) -> Result<(u64, u64)> {
        // Two blocks start at the same (ts, seq) only when a device repeats a sequence number
        // within one ms and the first block is full; a handful of probes settles it.
        for _ in 0..64 {
            let taken = open.contains_key(&want)
                || self
                    .series
                    .contains_key(block_key(kind, id, want))
                    .map_err(io("read blocks"))?;
            if !taken {
                return Ok(want);
            }
            want.1 = want.1.wrapping_add(1);
        }
        Err(corrupt(id, want))
    }

    /// Telemetry of `id` with `from <= ts <= to`, after the cursor, at most `limit`, in
    /// `(ts, seq)` order.
    pub fn telemetry(&self, id: &str, range: TimeRange, limit: usize) -> Result<Page<Sample>> {
        let (rows, next) = self.rows(codec::TELEMETRY, id, range, limit)?;
        Ok(Page {
            items: rows.into_iter().map(Row::into_sample).collect(),
            next,
        })
    }

    /// Rows of kind `kind` of `id` with `from <= ts <= to`, after the cursor, at most `limit`, in
    /// `(ts, seq)` order, and the cursor of the next page.
    pub(super) fn rows(
        &self,
        kind: u8,
        id: &str,
        range: TimeRange,
        limit: usize,
    ) -> Result<(Vec<Row>, Option<String>)> {
        let after = range.after.filter(|&(ts, _)| ts >= range.from);
        // Days before the one to resume in hold nothing wanted; of that day's blocks, those whose
        // header says they end before the window are not decoded.
        let resume = after.map_or(range.from, |(ts, _)| ts);
        let wanted =
            |r: &Row| r.ts >= range.from && r.ts <= range.to && after.is_none_or(|a| r.key() > a);
        // Samples of later blocks are never earlier than those blocks' starts, so whatever is
        // pending before the next block's start is final and can go out in order.
        let mut pending: Vec<Row> = Vec::new();
        let mut out: Vec<Row> = Vec::with_capacity(limit.min(1024) + 1);
        let mut next_day = self.next_day_of(kind, id, day(resume))?;
        while let Some(d) = next_day.filter(|&d| d <= day(range.to)) {
            for kv in self.series.range(blocks_of(kind, id, d, 0, range.to)) {
                let (k, v) = kv.map_err(io("read blocks"))?;
                let Some((_, start)) = split_block_key(&k) else {
                    continue;
                };
                settle(&mut pending, &mut out, Some(start.0), limit + 1);
                if out.len() > limit {
                    break;
                }
                if latest(&v).is_some_and(|t| t < resume) {
                    continue;
                }
                pending.extend(rows(id, start, &v)?.into_iter().filter(|r| wanted(r)));
            }
            if out.len() > limit || d == u32::MAX {
                break;
            }
            next_day = self.next_day_of(kind, id, d + 1)?;
        }
        settle(&mut pending, &mut out, None, limit + 1);
        let next = (out.len() > limit).then(|| {
            out.truncate(limit);
            out.last().map(|r| format!("{}.{}", r.ts, r.seq))
        });
        Ok((out, next.flatten()))
    }

    /// Deletes the blocks of kind `kind` of every day that ended before `cut`, a whole day at a
    /// time: a row is kept until `cut` passes it and at most a day longer. Reads nothing but what
    /// it deletes. Returns the rows deleted.
    pub(super) fn drop_days(&self, kind: u8, cut: u64) -> Result<u64> {
        let expired = codec::day_key(kind, 0)..codec::day_key(kind, day(cut));
        let mut deleted = 0;
        loop {
            let _writer = self.block_lock();
            let mut batch = sled::Batch::default();
            let mut seen = 0;
            for kv in self.series.range(expired.clone()).take(CHUNK) {
                let (k, v) = kv.map_err(io("retention scan"))?;
                if let Some((_, start)) = split_block_key(&k) {
                    deleted += count_rows(start, &v);
                }
                batch.remove(k);
                seen += 1;
            }
            if seen == 0 {
                return Ok(deleted);
            }
            self.series
                .apply_batch(batch)
                .map_err(io("retention delete"))?;
        }
    }
}

/// Blocks examined per retention batch.
const CHUNK: usize = 1_000;

/// Moves pending rows earlier than `bound` (all when `None`) to `out`, in order, up to `cap`.
fn settle(pending: &mut Vec<Row>, out: &mut Vec<Row>, bound: Option<u64>, cap: usize) {
    if pending.is_empty() {
        return;
    }
    pending.sort_by_key(Row::key);
    let ready = bound.map_or(pending.len(), |b| pending.partition_point(|r| r.ts < b));
    let take = ready.min(cap.saturating_sub(out.len()));
    out.extend(pending.drain(..take));
    if take < ready {
        pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_protocols::Value;
    use proptest::prelude::*;

    fn row(ts: u64, seq: u64, t: f64) -> Row {
        Row {
            ts,
            seq,
            device_seq: true,
            recv: ts + 40,
            values: [
                ("temperature_c".to_string(), Value::Number(t)),
                ("battery_pct".to_string(), Value::Number(97.0)),
            ]
            .into(),
        }
    }

    fn decode(block: &Block) -> Vec<Row> {
        rows("d", block.start, &block.bytes).unwrap()
    }

    #[test]
    fn a_typical_sample_takes_fourteen_bytes() {
        let mut block = Block::new((1_000_000, 7));
        block.push(&row(1_000_000, 7, 21.4));
        let first = block.bytes.len();
        block.push(&row(1_060_000, 8, 21.5));
        assert_eq!(block.bytes.len() - first, 14);
    }

    #[test]
    fn a_reopened_block_appends_where_it_stopped() {
        let mut block = Block::new((5, 1));
        block.push(&row(5, 1, 1.0));
        block.push(&row(9, 2, 2.5));
        let mut again = Block::reopen(block.start, &block.bytes).unwrap();
        again.push(&row(7, 3, 3.0));
        block.push(&row(7, 3, 3.0));
        assert_eq!(again.bytes, block.bytes);
        assert_eq!(decode(&again).len(), 3);
    }

    #[test]
    fn the_day_and_size_close_a_block() {
        let mut block = Block::new((1_000, 0));
        assert!(block.accepts(1_000) && block.accepts(codec::DAY_MS - 1));
        assert!(!block.accepts(999) && !block.accepts(codec::DAY_MS));
        let mut seq = 0;
        while block.accepts(1_000) {
            seq += 1;
            block.push(&row(1_000, seq, 1.0));
        }
        assert!(block.bytes.len() >= BLOCK_BYTES && seq > 100);
    }

    #[test]
    fn settle_emits_in_order_up_to_the_bound_and_cap() {
        let mut pending = vec![
            row(30, 1, 0.0),
            row(10, 1, 0.0),
            row(20, 2, 0.0),
            row(20, 1, 0.0),
        ];
        let mut out = Vec::new();
        settle(&mut pending, &mut out, Some(25), 10);
        assert_eq!(
            out.iter().map(Row::key).collect::<Vec<_>>(),
            [(10, 1), (20, 1), (20, 2)]
        );
        assert_eq!(pending.len(), 1);
        settle(&mut pending, &mut out, None, 10);
        assert_eq!(out.len(), 4);
    }

    fn arb_row() -> impl Strategy<Value = Row> {
        (
            any::<u64>(),
            any::<u64>(),
            any::<bool>(),
            any::<u64>(),
            proptest::collection::btree_map("[a-z_]{1,12}", -1.0e6f64..1.0e6, 0..4),
        )
            .prop_map(|(ts, seq, device_seq, recv, v)| Row {
                ts,
                seq,
                device_seq,
                recv,
                values: v.into_iter().map(|(k, n)| (k, Value::Number(n))).collect(),
            })
    }

    proptest! {
        #[test]
        fn blocks_round_trip(start in any::<(u64, u64)>(), rows in proptest::collection::vec(arb_row(), 0..40)) {
            let mut block = Block::new(start);
            for r in &rows {
                block.push(r);
            }
            prop_assert_eq!(decode(&block), rows);
        }

        #[test]
        fn corrupt_blocks_never_panic(start in any::<(u64, u64)>(), bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = super::rows("d", start, &bytes);
            let _ = Block::reopen(start, &bytes);
        }
    }
}
