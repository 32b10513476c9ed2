//! Delivery from the durable outbox. A notification leaves the outbox only once its receiver
//! confirmed it (here: the broker's PUBACK); failures are retried with backoff. Every attempt is
//! in the audit trail.
//!
//! This is the MQTT channel: `linli/{site}/staff/{staff_id}/notify` for people and the retained
//! `linli/{site}/alarms/{alarm_id}` for alarm state. Further channels plug in here, reading the
//! same outbox; the alarm logic does not change.

mod mqtt;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{info, warn};

pub use mqtt::Publisher;

use crate::alarms::AuditEntry;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{OutboxItem, OutboxKind, Store};

/// Outbox items handled per pass.
const PASS: usize = 256;

/// Retry delay after `attempts` failures: 1 s doubling to 60 s, with up to 25 % jitter.
pub fn backoff_ms(attempts: u32, jitter: u64) -> u64 {
    let base = 1_000u64.saturating_mul(1 << attempts.min(6)).min(60_000);
    base + jitter % (base / 4 + 1)
}

/// The notifier task.
#[derive(Debug)]
pub struct Notifier {
    /// The store (outbox, alarms, audit).
    pub store: Store,
    /// MQTT publisher.
    pub publisher: Publisher,
    /// Site id, for topics.
    pub site: String,
    /// Metrics.
    pub metrics: Metrics,
    /// Woken when deliveries are queued.
    pub wake: Arc<Notify>,
}

impl Notifier {
    /// Delivers until shutdown.
    pub async fn run(mut self, mut shutdown: Shutdown) {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = self.wake.notified() => {}
                _ = every.tick() => {}
            }
            if let Err(e) = self.pass().await {
                warn!(error = %e, "outbox pass failed; will retry");
            }
        }
        info!("notifier stopped");
    }

    async fn pass(&mut self) -> Result<(), crate::store::StoreError> {
        let now = crate::now_ms();
        let waiting = self.store.outbox()?;
        self.metrics.outbox_backlog.set(waiting.len() as i64);
        let oldest = waiting
            .iter()
            .map(|i| i.created_at)
            .min()
            .map_or(0, |t| now.saturating_sub(t) / 1_000);
        self.metrics
            .outbox_oldest
            .set(i64::try_from(oldest).unwrap_or(i64::MAX));
        let due: Vec<OutboxItem> = waiting
            .into_iter()
            .filter(|i| i.next_at <= now)
            .take(PASS)
            .collect();
        let mut receipts = Vec::new();
        for mut item in due {
            let (topic, payload, retain, alarm_id, target) = match &item.kind {
                OutboxKind::Notify { staff_id, body } => (
                    format!("linli/{}/staff/{staff_id}/notify", self.site),
                    serde_json::to_vec(body).unwrap_or_default(),
                    false,
                    Some(body.alarm_id.clone()),
                    Some(staff_id.clone()),
                ),
                OutboxKind::State { alarm_id } => {
                    let Some(alarm) = self.store.alarm(alarm_id)? else {
                        self.store.outbox_done(item.id)?;
                        continue;
                    };
                    let topic = format!("linli/{}/alarms/{alarm_id}", self.site);
                    (
                        topic,
                        serde_json::to_vec(&alarm).unwrap_or_default(),
                        true,
                        Some(alarm_id.clone()),
                        None,
                    )
                }
            };
            let started = Instant::now();
            let result = self.publisher.publish(&topic, payload, retain).await;
            let ms = started.elapsed().as_millis();
            item.attempts += 1;
            let outcome = if result.is_ok() {
                "delivered"
            } else {
                "failed"
            };
            self.metrics
                .notifications
                .with_label_values(&["mqtt", outcome])
                .inc();
            if let Some(staff_id) = target {
                let detail = match &result {
                    Ok(()) => format!("mqtt to {staff_id}: attempt {}, {ms} ms", item.attempts),
                    Err(e) => format!("mqtt to {staff_id}: attempt {} failed: {e}", item.attempts),
                };
                receipts.push(AuditEntry {
                    id: 0,
                    at: crate::now_ms(),
                    actor: "system".into(),
                    action: outcome.into(),
                    alarm_id,
                    detail,
                });
            }
            match result {
                Ok(()) => {
                    if let OutboxKind::Notify { body, .. } = &item.kind {
                        // Raise → delivery of the very first notification round (`id:0:0:0:staff`).
                        if body.key.split(':').skip(1).take(3).all(|n| n == "0") {
                            let seconds =
                                crate::now_ms().saturating_sub(body.raised_at) as f64 / 1_000.0;
                            self.metrics
                                .first_notification
                                .with_label_values(&[crate::metrics::class_label(Some(
                                    &body.class,
                                ))])
                                .observe(seconds);
                        }
                    }
                    self.store.outbox_done(item.id)?;
                }
                Err(e) => {
                    warn!(topic, error = %e, attempts = item.attempts, "delivery failed; will retry");
                    item.next_at = crate::now_ms()
                        + backoff_ms(item.attempts, item.id.wrapping_mul(2_654_435_761));
                    self.store.outbox_retry(&item)?;
                    break; // the broker is unreachable: the rest would fail the same way
                }
            }
        }
        if !receipts.is_empty() {
            self.store.append_audit(receipts)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_to_a_minute_with_bounded_jitter() {
        assert_eq!(backoff_ms(0, 0), 1_000);
        assert_eq!(backoff_ms(3, 0), 8_000);
        assert_eq!(backoff_ms(30, 0), 60_000);
        for j in 0..1_000 {
            let b = backoff_ms(2, j);
            assert!((4_000..=5_000).contains(&b), "{b}");
        }
    }
}
