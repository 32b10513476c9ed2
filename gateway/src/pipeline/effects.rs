//! Making a batch durable: alarm transitions, their notifications and audit records, device and
//! household state, in one atomic write; then telling the live stream and the notifier.

use std::collections::HashSet;

use std::collections::HashMap;

use linli_protocols::{Handling, Severity};

use super::Pipeline;
use crate::alarms::{Alarm, AuditEntry, Effects};
use crate::metrics::{CLASSES, class_label};
use crate::store::{OutboxItem, OutboxKind, StoreError, WriteSet};

impl Pipeline {
    /// Stores `set` plus everything `fx` implies, flushes, then publishes the changes.
    pub(super) async fn commit(
        &mut self,
        mut set: WriteSet,
        fx: Effects,
    ) -> Result<(), StoreError> {
        let now = crate::now_ms();
        let mut states = HashSet::new();
        for a in &fx.alarms {
            set.alarm(a);
            if states.insert(a.id.as_str()) {
                let kind = OutboxKind::State {
                    alarm_id: a.id.clone(),
                };
                set.enqueue(OutboxItem::new(kind, now));
            }
        }
        let deliveries = !fx.alarms.is_empty();
        for n in fx.notifications {
            let kind = OutboxKind::Notify {
                staff_id: n.staff_id,
                body: Box::new(n.body),
                channel: 0,
                first_at: now,
            };
            set.enqueue(OutboxItem::new(kind, now));
        }
        for e in fx.audit {
            self.observe(&e, &fx.alarms);
            set.audit(e);
        }
        for step in &fx.escalated {
            self.metrics
                .escalations
                .with_label_values(&[&step.to_string()])
                .inc();
        }
        for h in self.engine.dirty_households() {
            set.household(&h);
        }
        for t in self.engine.dirty_timers() {
            set.rule_timer(&t);
        }
        self.registry.persist(&mut set);
        if set.is_empty() {
            return Ok(());
        }
        self.store.apply(set)?;
        self.store.flush().await?;
        if deliveries {
            self.outbox.notify_one();
            for a in fx.alarms {
                // No listener is fine; a lagging one resyncs from the API.
                let _ = self.changes.send(a);
            }
            self.count_open();
        }
        Ok(())
    }

    fn observe(&self, e: &AuditEntry, alarms: &[Alarm]) {
        let Some(a) = alarms.iter().find(|a| Some(&a.id) == e.alarm_id.as_ref()) else {
            return;
        };
        match e.action.as_str() {
            "raised" => self
                .metrics
                .alarms_raised
                .with_label_values(&[&a.rule, a.severity.as_str()])
                .inc(),
            "acknowledged" => {
                let role = self
                    .book
                    .directory()
                    .person(&e.actor)
                    .and_then(|p| p.roles.first())
                    .map_or("none", |r| r.as_str());
                let seconds = e.at.saturating_sub(a.raised_at) as f64 / 1_000.0;
                self.metrics
                    .ack_seconds
                    .with_label_values(&[class_label(Some(&a.class)), role])
                    .observe(seconds);
            }
            _ => {}
        }
    }

    fn count_open(&self) {
        let mut open: HashMap<(&str, Severity, Handling), i64> = HashMap::new();
        for a in self.book.open() {
            *open
                .entry((class_label(Some(&a.class)), a.severity, a.status))
                .or_default() += 1;
        }
        for class in CLASSES {
            for severity in Severity::ALL {
                for status in [Handling::Open, Handling::Acknowledged] {
                    let n = open.get(&(class, severity, status)).copied().unwrap_or(0);
                    self.metrics
                        .alarms_open
                        .with_label_values(&[class, severity.as_str(), status.as_str()])
                        .set(n);
                }
            }
        }
    }
}
