//! Making a batch durable: alarm transitions, their notifications and audit records, device and
//! household state, in one atomic write; then telling the live stream and the notifier.

use std::collections::HashSet;

use linli_protocols::Handling;

use super::Pipeline;
use crate::alarms::Effects;
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
                set.enqueue(OutboxItem {
                    id: 0,
                    kind,
                    created_at: now,
                    attempts: 0,
                    next_at: now,
                });
            }
        }
        let deliveries = !fx.alarms.is_empty();
        for n in fx.notifications {
            let kind = OutboxKind::Notify {
                staff_id: n.staff_id,
                body: Box::new(n.body),
            };
            set.enqueue(OutboxItem {
                id: 0,
                kind,
                created_at: now,
                attempts: 0,
                next_at: now,
            });
        }
        for e in fx.audit {
            if e.action == "raised" {
                if let Some(a) = fx
                    .alarms
                    .iter()
                    .find(|a| Some(&a.id) == e.alarm_id.as_ref())
                {
                    self.metrics
                        .alarms_raised
                        .with_label_values(&[a.severity.as_str()])
                        .inc();
                }
            }
            set.audit(e);
        }
        for h in self.engine.dirty_households() {
            set.household(&h);
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
            for severity in linli_protocols::Severity::ALL {
                let open = self
                    .book
                    .open()
                    .filter(|a| a.severity == severity && a.status != Handling::Resolved)
                    .count();
                self.metrics
                    .alarms_open
                    .with_label_values(&[severity.as_str()])
                    .set(open as i64);
            }
        }
        Ok(())
    }
}
