//! Alarms, the outbox, the audit trail and household states, in the `series` tree so that one
//! batch stores a message, the alarm it raised and the notifications it queued, atomically.

use std::sync::atomic::Ordering;

use linli_protocols::{Handling, Severity, StaffNotification};
use serde::{Deserialize, Serialize};

use super::{Page, Result, Store, StoreError, WriteSet, codec, io};
use crate::alarms::{Alarm, AuditEntry};
use crate::rules::{HouseholdSnapshot, RuleTimer};

/// What an outbox item delivers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutboxKind {
    /// A notification to one staff member.
    Notify {
        /// Staff id.
        staff_id: String,
        /// The message.
        body: Box<StaffNotification>,
        /// Which of the person's channels (index into their `notify` list); a fallback queues
        /// the same message on the next one.
        #[serde(default)]
        channel: u32,
        /// When the first channel was queued, ms (0 in records older than channels).
        #[serde(default)]
        first_at: u64,
    },
    /// The retained state of an alarm on `linli/{site}/alarms/{id}`.
    State {
        /// The alarm id.
        alarm_id: String,
    },
}

/// A delivery waiting for its receiver's confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxItem {
    /// Position (assigned by the store).
    pub id: u64,
    /// What.
    #[serde(flatten)]
    pub kind: OutboxKind,
    /// Queued at, ms.
    pub created_at: u64,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before, ms.
    pub next_at: u64,
}

impl OutboxItem {
    /// A delivery due at once, queued at `now` (its id is assigned when the store applies it).
    pub fn new(kind: OutboxKind, now: u64) -> Self {
        OutboxItem {
            id: 0,
            kind,
            created_at: now,
            attempts: 0,
            next_at: now,
        }
    }
}

/// `GET /api/v1/alarms` filters.
#[derive(Debug, Clone, Default)]
pub struct AlarmFilter {
    /// Only this handling state.
    pub status: Option<Handling>,
    /// Only this severity.
    pub severity: Option<Severity>,
    /// Ids above this.
    pub after: u64,
}

pub(super) fn next_key(tree: &sled::Tree, prefix: u8) -> Result<u64> {
    let last = tree
        .scan_prefix([prefix])
        .keys()
        .next_back()
        .transpose()
        .map_err(io("read ids"))?;
    Ok(last.and_then(|k| codec::key_id(&k)).map_or(1, |id| id + 1))
}

fn json<T: serde::de::DeserializeOwned>(v: &[u8], what: &str) -> Result<T> {
    serde_json::from_slice(v).map_err(|e| StoreError::Corrupt {
        tree: "series",
        detail: format!("{what}: {e}"),
    })
}

impl WriteSet {
    /// Stores an alarm in its new state and keeps the open index in step.
    pub fn alarm(&mut self, alarm: &Alarm) {
        let Ok(id) = alarm.id.parse::<u64>() else {
            return;
        };
        self.writes += 1;
        self.series.insert(
            &codec::id_key(codec::ALARM, id),
            serde_json::to_vec(alarm).unwrap_or_default(),
        );
        if alarm.status == Handling::Resolved {
            self.series.remove(&codec::id_key(codec::OPEN, id));
        } else {
            self.series.insert(&codec::id_key(codec::OPEN, id), &[]);
        }
    }

    /// Queues a delivery (its id is assigned on apply).
    pub fn enqueue(&mut self, item: OutboxItem) {
        self.writes += 1;
        self.outbox.push(item);
    }

    /// Adds an audit record.
    pub fn audit(&mut self, entry: AuditEntry) {
        self.writes += 1;
        self.audit.push(entry);
    }

    /// Stores a rule's state for a device, or deletes it once idle.
    pub fn rule_timer(&mut self, t: &RuleTimer) {
        self.writes += 1;
        let key = timer_key(&t.rule, &t.device);
        if t.is_idle() {
            self.series.remove(key);
        } else {
            self.series
                .insert(key, serde_json::to_vec(t).unwrap_or_default());
        }
    }

    /// Stores a household state.
    pub fn household(&mut self, h: &HouseholdSnapshot) {
        self.writes += 1;
        let mut key = vec![codec::HOUSEHOLD];
        key.extend_from_slice(h.id.as_bytes());
        self.series
            .insert(key, serde_json::to_vec(h).unwrap_or_default());
    }
}

impl Store {
    /// Alarms not yet resolved.
    pub fn open_alarms(&self) -> Result<Vec<Alarm>> {
        let mut out = Vec::new();
        for k in self.series.scan_prefix([codec::OPEN]).keys() {
            let k = k.map_err(io("read open alarms"))?;
            if let Some(a) = codec::key_id(&k)
                .map(|id| self.alarm_by_id(id))
                .transpose()?
                .flatten()
            {
                out.push(a);
            }
        }
        Ok(out)
    }

    /// The id the next alarm gets.
    pub fn next_alarm_id(&self) -> Result<u64> {
        next_key(&self.series, codec::ALARM)
    }

    /// One alarm, any state.
    pub fn alarm(&self, id: &str) -> Result<Option<Alarm>> {
        match id.parse() {
            Ok(id) => self.alarm_by_id(id),
            Err(_) => Ok(None),
        }
    }

    fn alarm_by_id(&self, id: u64) -> Result<Option<Alarm>> {
        let v = self
            .series
            .get(codec::id_key(codec::ALARM, id))
            .map_err(io("read alarm"))?;
        v.map(|v| json(&v, "alarm")).transpose()
    }

    /// Alarms matching `filter` that `visible` lets through, oldest first.
    pub fn alarms(
        &self,
        filter: &AlarmFilter,
        limit: usize,
        visible: impl Fn(&Alarm) -> bool,
    ) -> Result<Page<Alarm>> {
        let start = codec::id_key(codec::ALARM, filter.after.saturating_add(1));
        let end = codec::id_key(codec::ALARM, u64::MAX);
        let mut items = Vec::new();
        let open_only = matches!(filter.status, Some(Handling::Open | Handling::Acknowledged));
        let keep = |a: &Alarm| {
            filter.status.is_none_or(|s| a.status == s)
                && filter.severity.is_none_or(|s| a.severity == s)
                && visible(a)
        };
        if open_only {
            // The open index is small; no scan of history.
            let mut open = self.open_alarms()?;
            open.retain(|a| a.id.parse::<u64>().is_ok_and(|id| id > filter.after) && keep(a));
            open.sort_by_key(|a| a.id.parse::<u64>().unwrap_or(0));
            let next = (open.len() > limit).then(|| open[limit - 1].id.clone());
            open.truncate(limit);
            return Ok(Page { items: open, next });
        }
        for v in self.series.range(start..=end).values() {
            let a: Alarm = json(&v.map_err(io("read alarms"))?, "alarm")?;
            if !keep(&a) {
                continue;
            }
            if items.len() == limit {
                let next = items.last().map(|a: &Alarm| a.id.clone());
                return Ok(Page { items, next });
            }
            items.push(a);
        }
        Ok(Page { items, next: None })
    }

    /// Audit records after `after` that `visible` lets through, oldest first.
    pub fn audit(
        &self,
        after: u64,
        limit: usize,
        visible: impl Fn(&AuditEntry) -> bool,
    ) -> Result<Page<AuditEntry>> {
        let start = codec::id_key(codec::AUDIT, after.saturating_add(1));
        let end = codec::id_key(codec::AUDIT, u64::MAX);
        let mut items = Vec::new();
        for v in self.series.range(start..=end).values() {
            let e: AuditEntry = json(&v.map_err(io("read audit"))?, "audit")?;
            if !visible(&e) {
                continue;
            }
            if items.len() == limit {
                let next = items.last().map(|e: &AuditEntry| e.id.to_string());
                return Ok(Page { items, next });
            }
            items.push(e);
        }
        Ok(Page { items, next: None })
    }

    /// Outbox items, oldest first.
    pub fn outbox(&self) -> Result<Vec<OutboxItem>> {
        self.all_json(codec::OUTBOX, "read outbox", "outbox")
    }

    /// One outbox item, as it is now.
    pub fn outbox_item(&self, id: u64) -> Result<Option<OutboxItem>> {
        self.series
            .get(codec::id_key(codec::OUTBOX, id))
            .map_err(io("read outbox"))?
            .map(|v| json(&v, "outbox"))
            .transpose()
    }

    /// Removes a delivered item.
    pub fn outbox_done(&self, id: u64) -> Result<()> {
        self.series
            .remove(codec::id_key(codec::OUTBOX, id))
            .map(|_| ())
            .map_err(io("outbox done"))
    }

    /// Rewrites an item after a failed attempt.
    pub fn outbox_retry(&self, item: &OutboxItem) -> Result<()> {
        let v = serde_json::to_vec(item).unwrap_or_default();
        self.series
            .insert(codec::id_key(codec::OUTBOX, item.id), v)
            .map(|_| ())
            .map_err(io("outbox retry"))
    }

    /// Appends audit records outside a pipeline batch (delivery receipts).
    pub fn append_audit(&self, entries: Vec<AuditEntry>) -> Result<()> {
        let mut batch = sled::Batch::default();
        for mut e in entries {
            e.id = self.next_audit.fetch_add(1, Ordering::Relaxed);
            batch.insert(
                &codec::id_key(codec::AUDIT, e.id),
                serde_json::to_vec(&e).unwrap_or_default(),
            );
        }
        self.series.apply_batch(batch).map_err(io("write audit"))
    }

    /// Saved rule states.
    pub fn rule_timers(&self) -> Result<Vec<RuleTimer>> {
        self.all_json(codec::RULE_TIMER, "read rule states", "rule state")
    }

    /// Saved household states.
    pub fn households(&self) -> Result<Vec<HouseholdSnapshot>> {
        self.all_json(codec::HOUSEHOLD, "read households", "household")
    }

    /// Every record under `prefix`, decoded from JSON, in key order.
    fn all_json<T: serde::de::DeserializeOwned>(
        &self,
        prefix: u8,
        op: &'static str,
        what: &str,
    ) -> Result<Vec<T>> {
        self.series
            .scan_prefix([prefix])
            .values()
            .map(|v| json(&v.map_err(io(op))?, what))
            .collect()
    }
}

/// `S ‖ len(rule) ‖ rule ‖ device`.
fn timer_key(rule: &str, device: &str) -> Vec<u8> {
    let mut k = codec::device_prefix(codec::RULE_TIMER, rule);
    k.extend_from_slice(device.as_bytes());
    k
}
