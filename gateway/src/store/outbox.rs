//! Settling deliveries: the outcome of one attempt (the item removed, rescheduled or moved to the
//! person's next channel), its audit record and its receipt, in one atomic batch; receipts per
//! alarm for its timeline; secrets kept in `meta`.

use std::sync::atomic::Ordering;

use serde::{Deserialize, Serialize};

use super::book::OutboxItem;
use super::{Result, Store, StoreError, codec, io};
use crate::alarms::AuditEntry;

/// One delivery attempt, as the alarm's timeline shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    /// When the attempt ended, ms.
    pub at: u64,
    /// The alarm.
    pub alarm_id: String,
    /// To whom.
    pub staff_id: String,
    /// Channel kind (`webhook`, `email`, ...).
    pub channel: String,
    /// Index of the channel in the person's list.
    pub index: u32,
    /// The receiver (URL without query, masked address or number).
    pub target: String,
    /// Idempotency key sent.
    pub key: String,
    /// Attempt number on this channel, from 1.
    pub attempt: u32,
    /// `delivered`, `failed`, `fallback`, `gave_up` or `dropped`.
    pub result: String,
    /// The receiver's answer or the error.
    pub detail: String,
    /// Time the attempt took, ms.
    pub latency_ms: u64,
}

/// What one attempt changes.
#[derive(Debug, Default)]
pub struct Settle {
    /// Outbox item to remove (delivered, moved on, or given up).
    pub remove: Option<u64>,
    /// Outbox item to rewrite (a retry later).
    pub rewrite: Option<OutboxItem>,
    /// Outbox items to add (a fallback); ids are assigned here.
    pub enqueue: Vec<OutboxItem>,
    /// Audit records.
    pub audit: Vec<AuditEntry>,
    /// Receipts.
    pub receipts: Vec<Receipt>,
}

fn receipt_key(alarm_id: u64, seq: u64) -> [u8; 17] {
    let mut k = [codec::RECEIPT; 17];
    k[1..9].copy_from_slice(&alarm_id.to_be_bytes());
    k[9..].copy_from_slice(&seq.to_be_bytes());
    k
}

impl Store {
    /// Applies `s` in one batch. Not flushed: losing it to a crash means the attempt is made
    /// again, which the idempotency key makes harmless.
    pub fn settle(&self, s: Settle) -> Result<()> {
        let mut batch = sled::Batch::default();
        if let Some(id) = s.remove {
            batch.remove(&codec::id_key(codec::OUTBOX, id));
        }
        let fresh = s.enqueue.into_iter().map(|mut item| {
            item.id = self.next_outbox.fetch_add(1, Ordering::Relaxed);
            item
        });
        for item in s.rewrite.into_iter().chain(fresh) {
            let v = serde_json::to_vec(&item).unwrap_or_default();
            batch.insert(&codec::id_key(codec::OUTBOX, item.id), v);
        }
        for mut e in s.audit {
            e.id = self.next_audit.fetch_add(1, Ordering::Relaxed);
            let v = serde_json::to_vec(&e).unwrap_or_default();
            batch.insert(&codec::id_key(codec::AUDIT, e.id), v);
        }
        for r in s.receipts {
            let Ok(alarm) = r.alarm_id.parse::<u64>() else {
                continue;
            };
            let seq = self.db.generate_id().map_err(io("receipt id"))?;
            let v = serde_json::to_vec(&r).unwrap_or_default();
            batch.insert(&receipt_key(alarm, seq), v);
        }
        self.series
            .apply_batch(batch)
            .map_err(io("settle delivery"))
    }

    /// Receipts of an alarm, oldest first.
    pub fn receipts(&self, alarm_id: &str) -> Result<Vec<Receipt>> {
        let Ok(id) = alarm_id.parse::<u64>() else {
            return Ok(Vec::new());
        };
        let mut prefix = vec![codec::RECEIPT];
        prefix.extend_from_slice(&id.to_be_bytes());
        self.series
            .scan_prefix(prefix)
            .values()
            .map(|v| {
                let v = v.map_err(io("read receipts"))?;
                serde_json::from_slice(&v).map_err(|e| StoreError::Corrupt {
                    tree: "series",
                    detail: format!("receipt: {e}"),
                })
            })
            .collect()
    }

    /// The secret `name` from `meta`, created with `make` (and flushed) on first use.
    pub fn secret(&self, name: &str, make: impl FnOnce() -> Vec<u8>) -> Result<Vec<u8>> {
        let meta = self.db.open_tree("meta").map_err(io("open meta"))?;
        let key = format!("secret.{name}");
        if let Some(v) = meta.get(&key).map_err(io("read secret"))? {
            return Ok(v.to_vec());
        }
        let fresh = make();
        // Two starters at once cannot both win: the first write stays.
        let _ = meta
            .compare_and_swap(&key, None as Option<&[u8]>, Some(fresh.as_slice()))
            .map_err(io("write secret"))?;
        meta.flush().map_err(io("flush secret"))?;
        let v = meta.get(&key).map_err(io("read secret"))?;
        Ok(v.map_or(fresh, |v| v.to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreConfig;
    use crate::store::OutboxKind;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&StoreConfig {
            path: dir.path().join("db"),
            ..StoreConfig::default()
        })
        .unwrap();
        (dir, store)
    }

    fn receipt(alarm: &str, result: &str) -> Receipt {
        Receipt {
            at: 1,
            alarm_id: alarm.into(),
            staff_id: "wang".into(),
            channel: "webhook".into(),
            index: 0,
            target: "http://x/hook".into(),
            key: "k".into(),
            attempt: 1,
            result: result.into(),
            detail: String::new(),
            latency_ms: 3,
        }
    }

    #[test]
    fn settle_moves_an_item_and_keeps_receipts_per_alarm() {
        let (_dir, store) = store();
        let item = OutboxItem::new(
            OutboxKind::State {
                alarm_id: "1".into(),
            },
            1,
        );
        store
            .settle(Settle {
                enqueue: vec![item.clone()],
                ..Default::default()
            })
            .unwrap();
        let queued = store.outbox().unwrap();
        assert_eq!(queued.len(), 1);
        store
            .settle(Settle {
                remove: Some(queued[0].id),
                enqueue: vec![item],
                receipts: vec![
                    receipt("7", "fallback"),
                    receipt("8", "delivered"),
                    receipt("7", "delivered"),
                ],
                ..Default::default()
            })
            .unwrap();
        let after = store.outbox().unwrap();
        assert_eq!(after.len(), 1);
        assert_ne!(after[0].id, queued[0].id);
        let seven: Vec<String> = store
            .receipts("7")
            .unwrap()
            .into_iter()
            .map(|r| r.result)
            .collect();
        assert_eq!(seven, ["fallback", "delivered"]);
        assert_eq!(store.receipts("8").unwrap().len(), 1);
        assert!(store.receipts("9").unwrap().is_empty());
    }

    #[test]
    fn a_secret_is_made_once_and_kept() {
        let (_dir, store) = store();
        let a = store.secret("link", || vec![1; 32]).unwrap();
        let b = store.secret("link", || vec![2; 32]).unwrap();
        assert_eq!(a, vec![1; 32]);
        assert_eq!(a, b);
    }
}
