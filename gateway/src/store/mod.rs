//! The embedded store (sled 0.34). Nothing outside this module sees a sled type.
//!
//! Trees: `series` holds telemetry blocks (`T`, see [`blocks`]), event blocks (`E`, the same
//! layout: an event is a row whose readings are its data and type) and per-device
//! duplicate windows (`W`) in one tree so that one `apply_batch` stores a message and its dedup
//! state atomically; `devices` holds the registry (JSON); `rejected` the bounded list of refused
//! payloads; `meta` the schema.

mod blocks;
mod book;
mod codec;
mod outbox;
mod records;
mod retention;

use std::collections::HashMap;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use linli_protocols::{Value, Values};

pub use book::{AlarmFilter, OutboxItem, OutboxKind};
pub use outbox::{Receipt, Settle};
pub use records::{
    DeviceRecord, DeviceSource, DeviceState, EventRecord, LastEvent, LastValues, Page,
    RejectedRecord, Sample, StateReason,
};
pub use retention::Retained;

use blocks::Row;

use crate::config::StoreConfig;

/// The on-disk layout version this build reads and writes.
pub const SCHEMA_VERSION: u64 = 5;

/// Store failures, with the path or tree involved.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened.
    #[error("cannot open the store at {path}: {source}")]
    Open {
        /// The store directory.
        path: PathBuf,
        /// sled's error.
        source: sled::Error,
    },
    /// The database was written by an incompatible build.
    #[error("the store at {path} has schema {found}; this build reads schema {SCHEMA_VERSION}")]
    Schema {
        /// The store directory.
        path: PathBuf,
        /// The version found.
        found: u64,
    },
    /// A read or write failed.
    #[error("store {op}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// sled's error.
        source: sled::Error,
    },
    /// A record could not be decoded.
    #[error("corrupt record in {tree}: {detail}")]
    Corrupt {
        /// The tree.
        tree: &'static str,
        /// What was wrong.
        detail: String,
    },
}

type Result<T> = std::result::Result<T, StoreError>;

fn io(op: &'static str) -> impl FnOnce(sled::Error) -> StoreError {
    move |source| StoreError::Io { op, source }
}

/// The store handle; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    db: sled::Db,
    series: sled::Tree,
    devices: sled::Tree,
    rejected: sled::Tree,
    rejected_max: usize,
    next_rejected: std::sync::Arc<AtomicU64>,
    next_outbox: std::sync::Arc<AtomicU64>,
    next_audit: std::sync::Arc<AtomicU64>,
    /// Held while telemetry blocks are read, changed and written back (ingest, retention).
    blocks: Arc<Mutex<()>>,
}

/// The reading name an event's type is stored under in its block: devices' reading names are
/// identifiers, so no payload can send it.
const EVENT_TYPE: &str = "\u{0}type";

fn push_row(rows: &mut HashMap<String, Vec<Row>>, id: &str, row: Row) {
    match rows.get_mut(id) {
        Some(rows) => rows.push(row),
        None => {
            rows.insert(id.to_string(), vec![row]);
        }
    }
}

/// Writes gathered by the ingest worker, applied together by [`Store::apply`].
#[derive(Debug, Default)]
pub struct WriteSet {
    samples: HashMap<String, Vec<Row>>,
    events: HashMap<String, Vec<Row>>,
    series: sled::Batch,
    devices: sled::Batch,
    rejected: Vec<RejectedRecord>,
    outbox: Vec<OutboxItem>,
    audit: Vec<crate::alarms::AuditEntry>,
    len: usize,
    writes: usize,
}

impl WriteSet {
    /// Adds a telemetry sample. `seq` is the device's; `None` gets a hub-unique tie-breaker.
    pub fn sample(&mut self, id: &str, ts: u64, seq: Option<u64>, recv: u64, values: Values) {
        let row = Row {
            ts,
            seq: seq.unwrap_or_else(tiebreak),
            device_seq: seq.is_some(),
            recv,
            values,
        };
        push_row(&mut self.samples, id, row);
        self.len += 1;
        self.writes += 1;
    }

    /// Adds a device event. Events go into blocks per device and day like telemetry (a key
    /// each would grow sled's page table with every event): a row whose readings are the
    /// event's data plus its type under [`EVENT_TYPE`], a name no device can send.
    pub fn event(&mut self, id: &str, event: EventRecord) {
        let mut values = event.data;
        values.insert(EVENT_TYPE.into(), Value::Text(event.kind));
        let row = Row {
            ts: event.ts,
            seq: event.seq.unwrap_or_else(tiebreak),
            device_seq: event.seq.is_some(),
            recv: event.recv,
            values,
        };
        push_row(&mut self.events, id, row);
        self.len += 1;
        self.writes += 1;
    }

    /// Records the duplicate window of a device, in the same atomic batch as its samples.
    pub fn window(&mut self, id: &str, window: &[u8]) {
        self.writes += 1;
        self.series
            .insert(codec::device_prefix(codec::WINDOW, id), window);
    }

    /// Writes a device record.
    pub fn device(&mut self, device: &DeviceRecord) {
        self.writes += 1;
        self.devices.insert(
            device.id.as_bytes(),
            serde_json::to_vec(device).unwrap_or_default(),
        );
    }

    /// Keeps a refused payload (its `id` is assigned on apply).
    pub fn reject(&mut self, record: RejectedRecord) {
        self.writes += 1;
        self.rejected.push(record);
        self.len += 1;
    }

    /// Messages (samples, events, rejections) in this set.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing at all was added.
    pub fn is_empty(&self) -> bool {
        self.writes == 0
    }
}

/// Sequence numbers for messages without one: unique within the process, ordered by arrival.
fn tiebreak() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1 << 63);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Store {
    /// Opens (or creates) the store and checks its schema.
    pub fn open(config: &StoreConfig) -> Result<Store> {
        let path = config.path.clone();
        let db = sled::Config::new()
            .path(&path)
            .cache_capacity(config.cache_mb * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open()
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        let meta = db.open_tree("meta").map_err(io("open meta"))?;
        match meta.get("schema").map_err(io("read schema"))? {
            None => {
                meta.insert("schema", &SCHEMA_VERSION.to_be_bytes())
                    .map_err(io("write schema"))?;
            }
            Some(v) => {
                let found = v
                    .as_ref()
                    .try_into()
                    .map(u64::from_be_bytes)
                    .unwrap_or(u64::MAX);
                if found != SCHEMA_VERSION {
                    return Err(StoreError::Schema { path, found });
                }
            }
        }
        let rejected = db.open_tree("rejected").map_err(io("open rejected"))?;
        let next = rejected
            .last()
            .map_err(io("read rejected"))?
            .and_then(|(k, _)| k.as_ref().try_into().ok().map(u64::from_be_bytes))
            .map_or(1, |last| last + 1);
        let series = db.open_tree("series").map_err(io("open series"))?;
        let next_outbox = book::next_key(&series, codec::OUTBOX)?;
        let next_audit = book::next_key(&series, codec::AUDIT)?;
        Ok(Store {
            next_outbox: std::sync::Arc::new(AtomicU64::new(next_outbox)),
            next_audit: std::sync::Arc::new(AtomicU64::new(next_audit)),
            series,
            devices: db.open_tree("devices").map_err(io("open devices"))?,
            rejected,
            rejected_max: config.rejected_max,
            next_rejected: std::sync::Arc::new(AtomicU64::new(next)),
            blocks: Arc::default(),
            db,
        })
    }

    fn block_lock(&self) -> MutexGuard<'_, ()> {
        // The guard protects no data of its own: a panic elsewhere leaves nothing half-done.
        self.blocks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Applies a write set (not yet durable: call [`Store::flush`]).
    pub fn apply(&self, mut set: WriteSet) -> Result<()> {
        // Outbox and audit go into the same atomic batch as the alarm transitions behind them.
        for mut item in std::mem::take(&mut set.outbox) {
            item.id = self.next_outbox.fetch_add(1, Ordering::Relaxed);
            let v = serde_json::to_vec(&item).unwrap_or_default();
            set.series.insert(&codec::id_key(codec::OUTBOX, item.id), v);
        }
        for mut entry in std::mem::take(&mut set.audit) {
            entry.id = self.next_audit.fetch_add(1, Ordering::Relaxed);
            let v = serde_json::to_vec(&entry).unwrap_or_default();
            set.series.insert(&codec::id_key(codec::AUDIT, entry.id), v);
        }
        let writer = self.block_lock();
        for (id, rows) in &set.samples {
            self.file_rows(codec::TELEMETRY, id, rows, &mut set.series)?;
        }
        for (id, rows) in &set.events {
            self.file_rows(codec::EVENT, id, rows, &mut set.series)?;
        }
        self.series
            .apply_batch(set.series)
            .map_err(io("write series"))?;
        drop(writer);
        self.devices
            .apply_batch(set.devices)
            .map_err(io("write devices"))?;
        if !set.rejected.is_empty() {
            let mut batch = sled::Batch::default();
            for mut r in set.rejected {
                r.id = self.next_rejected.fetch_add(1, Ordering::Relaxed);
                batch.insert(
                    &r.id.to_be_bytes(),
                    serde_json::to_vec(&r).unwrap_or_default(),
                );
            }
            self.rejected
                .apply_batch(batch)
                .map_err(io("write rejected"))?;
            self.trim_rejected()?;
        }
        Ok(())
    }

    fn trim_rejected(&self) -> Result<()> {
        let next = self.next_rejected.load(Ordering::Relaxed);
        let keep_from = next.saturating_sub(self.rejected_max as u64);
        let mut batch = sled::Batch::default();
        for key in self.rejected.range(..keep_from.to_be_bytes()).keys() {
            batch.remove(key.map_err(io("trim rejected"))?);
        }
        self.rejected
            .apply_batch(batch)
            .map_err(io("trim rejected"))
    }

    /// Makes everything applied so far durable.
    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await.map(|_| ()).map_err(io("flush"))
    }

    /// Flushes synchronously (on shutdown).
    pub fn flush_sync(&self) -> Result<()> {
        self.db.flush().map(|_| ()).map_err(io("flush"))
    }

    /// Bytes the database occupies on disk.
    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }

    /// Every device record, in id order, read as the iterator goes.
    pub fn devices(&self) -> impl Iterator<Item = Result<DeviceRecord>> + '_ {
        self.devices_after(None)
    }

    /// Device records with ids after `after` (all with `None`), in id order, read as the iterator
    /// goes: a page of a long list seeks to where it starts.
    pub fn devices_after(
        &self,
        after: Option<&str>,
    ) -> impl Iterator<Item = Result<DeviceRecord>> + '_ {
        let start = after.map_or(Bound::Unbounded, |a| Bound::Excluded(a.as_bytes().to_vec()));
        self.devices
            .range((start, Bound::Unbounded))
            .values()
            .map(|v| {
                let v = v.map_err(io("read devices"))?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: "devices",
                    detail: e.to_string(),
                })
            })
    }

    /// One device record.
    pub fn device(&self, id: &str) -> Result<Option<DeviceRecord>> {
        let Some(v) = self.devices.get(id).map_err(io("read device"))? else {
            return Ok(None);
        };
        serde_json::from_slice(&v)
            .map(Some)
            .map_err(|e| StoreError::Corrupt {
                tree: "devices",
                detail: e.to_string(),
            })
    }

    /// Every stored duplicate window, by device id, read as the iterator goes.
    pub fn windows(&self) -> impl Iterator<Item = Result<(String, Vec<u8>)>> + '_ {
        self.series.scan_prefix([codec::WINDOW]).map(|kv| {
            let (k, v) = kv.map_err(io("read windows"))?;
            let id = k
                .get(2..)
                .and_then(|id| std::str::from_utf8(id).ok())
                .unwrap_or_default();
            Ok((id.to_string(), v.to_vec()))
        })
    }

    /// Events of `id` in the range, after the cursor, at most `limit`, in `(ts, seq)` order.
    pub fn events(&self, id: &str, range: TimeRange, limit: usize) -> Result<Page<EventRecord>> {
        let (rows, next) = self.rows(codec::EVENT, id, range, limit)?;
        let items = rows
            .into_iter()
            .map(|mut row| {
                let Some(Value::Text(kind)) = row.values.remove(EVENT_TYPE) else {
                    return Err(StoreError::Corrupt {
                        tree: "series",
                        detail: format!("event of {id} at {} without a type", row.ts),
                    });
                };
                Ok(EventRecord {
                    ts: row.ts,
                    seq: row.device_seq.then_some(row.seq),
                    recv: row.recv,
                    kind,
                    data: row.values,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Page { items, next })
    }

    /// The first day at or after `from` that may hold records of kind `prefix` of `id`: the day
    /// of the first key at or after where they would begin. Days in between hold no such key at
    /// all; the seek lands on the page the caller reads next when `id` has records that day.
    fn next_day_of(&self, prefix: u8, id: &str, from: u32) -> Result<Option<u32>> {
        let at = codec::device_day_key(prefix, from, id);
        let Some(kv) = self.series.range(at..).next() else {
            return Ok(None);
        };
        let (k, _) = kv.map_err(io("read series"))?;
        Ok((k.first() == Some(&prefix))
            .then(|| codec::key_day(&k))
            .flatten())
    }

    /// Rejected payloads after id `after`, oldest first, at most `limit`.
    pub fn rejected(&self, after: u64, limit: usize) -> Result<Page<RejectedRecord>> {
        let mut items = Vec::new();
        for v in self
            .rejected
            .range(after.saturating_add(1).to_be_bytes()..)
            .values()
        {
            let v = v.map_err(io("read rejected"))?;
            if items.len() == limit {
                let next = items.last().map(|r: &RejectedRecord| r.id.to_string());
                return Ok(Page { items, next });
            }
            items.push(serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                tree: "rejected",
                detail: e.to_string(),
            })?);
        }
        Ok(Page { items, next: None })
    }
}

/// A time window plus an optional `(ts, seq)` cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// Inclusive start, ms.
    pub from: u64,
    /// Inclusive end, ms.
    pub to: u64,
    /// Resume after this `(ts, seq)`.
    pub after: Option<(u64, u64)>,
}

impl TimeRange {
    /// Parses a cursor as written in [`Page::next`].
    pub fn parse_cursor(s: &str) -> Option<(u64, u64)> {
        let (ts, seq) = s.split_once('.')?;
        Some((ts.parse().ok()?, seq.parse().ok()?))
    }
}

#[cfg(test)]
mod tests;
