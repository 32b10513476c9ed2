//! Deleting data past its retention, per data class (PIPL: keep only as long as necessary).
//! Telemetry and events follow their own retention; resolved alarms with their delivery receipts,
//! and the audit trail, follow the event retention (GB 50396's 180 days by default).

use super::{Result, Store, codec, io};
use crate::alarms::{Alarm, AuditEntry};

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retained {
    /// Telemetry samples deleted.
    pub telemetry: u64,
    /// Events deleted.
    pub events: u64,
    /// Resolved alarms deleted, with their receipts.
    pub alarms: u64,
    /// Audit records deleted.
    pub audit: u64,
}

/// Deletions per batch, so a pass never builds an unbounded batch.
const CHUNK: usize = 10_000;

impl Store {
    /// Deletes telemetry of the UTC days that ended before `telemetry_cut` and events of the days
    /// that ended before `event_cut` (whole days: a sample or event outlives its cut by less than
    /// a day, and a pass reads nothing but what it deletes, whatever the number of devices);
    /// resolved alarms and audit records stamped before `event_cut` (ms).
    pub fn retain(&self, telemetry_cut: u64, event_cut: u64) -> Result<Retained> {
        Ok(Retained {
            telemetry: self.drop_days(codec::TELEMETRY, telemetry_cut)?,
            events: self.drop_days(codec::EVENT, event_cut)?,
            alarms: self.delete_alarms(event_cut)?,
            audit: self.delete_audit(event_cut)?,
        })
    }

    /// Deletes the records of `range` from its start while `expired` says so of their value, in
    /// batches of [`CHUNK`].
    fn delete_oldest(
        &self,
        range: std::ops::Range<Vec<u8>>,
        expired: impl Fn(&[u8]) -> bool,
    ) -> Result<u64> {
        let mut deleted = 0;
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for kv in self.series.range(range.clone()).take(CHUNK) {
                let (k, v) = kv.map_err(io("retention scan"))?;
                if !expired(&v) {
                    break;
                }
                batch.remove(k);
                n += 1;
            }
            if n == 0 {
                return Ok(deleted);
            }
            self.series
                .apply_batch(batch)
                .map_err(io("retention delete"))?;
            deleted += n;
        }
    }

    /// Resolved alarms whose resolution is older than `cut`, and their receipts. Ids grow with
    /// raise time, so the scan stops at the first alarm raised after the cut. The newest alarm is
    /// kept whatever its age: the next id is derived from it, and a reused id would let an old
    /// acknowledgement link act on a new alarm.
    fn delete_alarms(&self, cut: u64) -> Result<u64> {
        let newest = super::book::next_key(&self.series, codec::ALARM)?.saturating_sub(1);
        let mut batch = sled::Batch::default();
        let mut deleted = 0;
        for kv in self
            .series
            .range(codec::id_key(codec::ALARM, 0)..codec::id_key(codec::ALARM, newest))
        {
            let (k, v) = kv.map_err(io("retention scan"))?;
            let Some(id) = codec::key_id(&k) else {
                continue;
            };
            let Ok(alarm) = serde_json::from_slice::<Alarm>(&v) else {
                continue;
            };
            if alarm.raised_at >= cut {
                break;
            }
            if alarm.resolved_at.is_none_or(|t| t >= cut) {
                continue;
            }
            batch.remove(k);
            for r in self.series.scan_prefix(receipt_prefix(id)).keys() {
                batch.remove(r.map_err(io("retention scan"))?);
            }
            deleted += 1;
            if deleted % CHUNK as u64 == 0 {
                self.series
                    .apply_batch(std::mem::take(&mut batch))
                    .map_err(io("retention delete"))?;
            }
        }
        self.series
            .apply_batch(batch)
            .map_err(io("retention delete"))?;
        Ok(deleted)
    }

    /// Audit records older than `cut`, oldest first; the newest is kept (it numbers the next).
    /// Records are numbered in time order; an unreadable one before a young one is older still.
    fn delete_audit(&self, cut: u64) -> Result<u64> {
        let newest = super::book::next_key(&self.series, codec::AUDIT)?.saturating_sub(1);
        let range =
            codec::id_key(codec::AUDIT, 0).to_vec()..codec::id_key(codec::AUDIT, newest).to_vec();
        self.delete_oldest(range, |v| {
            serde_json::from_slice::<AuditEntry>(v)
                .ok()
                .is_none_or(|e| e.at < cut)
        })
    }
}

fn receipt_prefix(alarm_id: u64) -> [u8; 9] {
    codec::id_key(codec::RECEIPT, alarm_id)
}
