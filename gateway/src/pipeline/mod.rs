//! The pipeline worker: decode a batch, evaluate rules, move alarms, store it all with one atomic
//! batch, flush, then acknowledge in receive order. Invariant 1: nothing is acknowledged before it
//! is durable (or recorded as rejected). Invariant 2: an alarm transition and the notifications it
//! queues are durable before the notifier sends anything.
//!
//! The worker owns all mutable pipeline state (device registry, rule engine, alarm book); the API
//! reaches it only through [`Command`]s.

mod acks;
mod commands;
mod effects;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use linli_protocols::{
    Channel, DeviceTopic, Limits, Message, Reject, RejectReason, StaffAck, TopicError, decode,
};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{Notify, broadcast, mpsc, watch};
use tracing::{error, warn};

use acks::Acks;
pub use commands::{Command, CommandError};

use crate::alarms::{Alarm, Book, Effects};
use crate::devices::Registry;
use crate::ingest::{Incoming, Session};
use crate::metrics::{Metrics, class_label};
use crate::rules::Engine;
use crate::shutdown::Shutdown;
use crate::store::{EventRecord, RejectedRecord, Store, StoreError, WriteSet};

/// Most messages stored by one batch (one `apply_batch` + one flush).
pub const MAX_BATCH: usize = 4_096;

/// Commands waiting for the worker; senders wait when it is full.
pub const COMMAND_QUEUE: usize = 256;

/// How often timers (silence, escalation, households, doors) are checked: "late by at most a
/// second" with room to spare.
pub const TICK: Duration = Duration::from_millis(250);

/// How soon acknowledgements that found rumqttc's request channel full are tried again.
const ACK_RETRY: Duration = Duration::from_millis(2);

/// Rejected payloads are kept up to this many bytes.
const KEEP_PAYLOAD: usize = 1_024;

/// Device clocks further off than this from the hub's are not trusted for ordering.
const FUTURE_SKEW_MS: u64 = 10 * 60 * 1_000;
const PAST_SKEW_MS: u64 = 400 * 86_400 * 1_000;

/// The worker and everything it owns.
#[derive(Debug)]
pub struct Pipeline {
    /// The store.
    pub store: Store,
    /// The device registry, loaded from the store.
    pub registry: Registry,
    /// The rule engine.
    pub engine: Engine,
    /// The alarm book, loaded from the store.
    pub book: Book,
    /// Metrics.
    pub metrics: Metrics,
    /// Payload limits.
    pub limits: Limits,
    /// This hub's site id.
    pub site: String,
    /// The current MQTT client, for acknowledgements.
    pub clients: watch::Receiver<AsyncClient>,
    /// Session epoch.
    pub session: Arc<Session>,
    /// Alarm changes for live streams (lagging listeners miss some and resync).
    pub changes: broadcast::Sender<Alarm>,
    /// Wakes the notifier after new deliveries are durable.
    pub outbox: Arc<Notify>,
}

/// Per-batch counts, applied to the metrics once the batch is durable.
#[derive(Debug, Default)]
struct Tally {
    stored: std::collections::HashMap<(Channel, &'static str), u64>,
    rejected: Vec<Reject>,
    last_rejected_topic: String,
    duplicates: u64,
    gaps: u64,
}

impl Pipeline {
    /// Runs until shutdown or until the store fails (then the daemon must stop: nothing more can
    /// be acknowledged safely).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Incoming>,
        mut commands: mpsc::Receiver<Command>,
        mut shutdown: Shutdown,
    ) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut acks = Acks::default();
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.handle(&mut batch, &mut acks).await?;
                }
                _ = tokio::time::sleep(ACK_RETRY), if !acks.is_empty() => self.flush_acks(&mut acks),
                Some(command) = commands.recv() => self.command(command).await?,
                _ = tick.tick() => self.tick().await?,
            }
        }
        self.commit(WriteSet::default(), Effects::default()).await
    }

    async fn handle(
        &mut self,
        batch: &mut Vec<Incoming>,
        acks: &mut Acks,
    ) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut set = WriteSet::default();
        let mut fx = Effects::default();
        let mut tally = Tally::default();
        for incoming in batch.iter() {
            self.classify(incoming, &mut set, &mut fx, &mut tally);
        }
        self.commit(set, fx).await?;
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_messages.observe(batch.len() as f64);
        self.count(tally);

        // PUBACKs in receive order, as MQTT requires; only for the session they came in.
        for incoming in batch.drain(..) {
            if incoming.publish.qos != QoS::AtMostOnce {
                acks.push(incoming.epoch, &incoming.publish);
            }
        }
        self.flush_acks(acks);
        Ok(())
    }

    fn flush_acks(&self, acks: &mut Acks) {
        let client = self.clients.borrow().clone();
        acks.flush(&client, self.session.epoch.load(Ordering::Acquire));
    }

    fn classify(
        &mut self,
        incoming: &Incoming,
        set: &mut WriteSet,
        fx: &mut Effects,
        tally: &mut Tally,
    ) {
        let publish = &incoming.publish;
        if let Some(staff_id) = staff_ack_topic(&self.site, &publish.topic) {
            return self.staff_ack(incoming, staff_id, set, fx, tally);
        }
        let topic = match DeviceTopic::parse(&self.site, &publish.topic) {
            Ok(t) if t.channel != Channel::Cmd => t,
            // The hub's own topics and commands to devices travel under the same wildcard.
            Ok(_) | Err(TopicError::Reserved(_)) => return,
            Err(e) => return self.reject(incoming, Reject::from(&e), set, tally),
        };
        // An empty payload clears a retained announce or status. A live subscription gets it
        // with RETAIN=0 (the broker forwards the clearing publish), so the flag cannot tell.
        if publish.payload.is_empty()
            && matches!(topic.channel, Channel::Announce | Channel::Status)
        {
            return;
        }
        let message = match decode(
            topic.channel,
            topic.device_id,
            &publish.payload,
            &self.limits,
        ) {
            Ok(m) => m,
            Err(reject) => return self.reject(incoming, reject, set, tally),
        };
        let id = topic.device_id;
        let recv = incoming.recv;
        let seen = self
            .registry
            .observe(id, &message, publish.retain, publish.dup, recv);
        if seen.duplicate {
            tally.duplicates += 1;
            return;
        }
        tally.gaps += seen.gap;
        if let Some(device) = self.registry.get(id) {
            let mut signals = self.engine.on_message(device, &message, recv);
            if seen.became.is_some() {
                signals.extend(self.engine.on_state(device, recv));
            }
            for s in signals {
                fx.extend(self.book.signal(&s, recv));
            }
        }
        // Stored last, so the readings move into the write set instead of being copied.
        match message {
            Message::Telemetry(t) => set.sample(id, sample_time(t.ts, recv), t.seq, recv, t.values),
            Message::Event(e) => set.event(
                id,
                EventRecord {
                    ts: sample_time(e.ts, recv),
                    seq: e.seq,
                    recv,
                    kind: e.kind,
                    data: e.data,
                },
            ),
            Message::Status(_) | Message::Announce(_) => {}
        }
        let class = class_label(self.registry.get(id).and_then(|d| d.kind.as_deref()));
        *tally.stored.entry((topic.channel, class)).or_default() += 1;
    }

    fn staff_ack(
        &mut self,
        incoming: &Incoming,
        staff_id: &str,
        set: &mut WriteSet,
        fx: &mut Effects,
        tally: &mut Tally,
    ) {
        let ack: StaffAck = match serde_json::from_slice(&incoming.publish.payload) {
            Ok(a) => a,
            Err(e) => {
                let reject = Reject {
                    reason: RejectReason::Malformed,
                    detail: format!("staff ack: {e}"),
                };
                return self.reject(incoming, reject, set, tally);
            }
        };
        match commands::act_as(
            &mut self.book,
            staff_id,
            &ack.alarm_id,
            false,
            ack.note,
            "mqtt",
            incoming.recv,
        ) {
            Ok(done) => fx.extend(done),
            Err(e) => {
                warn!(staff_id, alarm_id = %ack.alarm_id, error = %e, "staff acknowledgement refused")
            }
        }
    }

    fn reject(&self, incoming: &Incoming, reject: Reject, set: &mut WriteSet, tally: &mut Tally) {
        let payload = &incoming.publish.payload;
        let kept = &payload[..payload.len().min(KEEP_PAYLOAD)];
        set.reject(RejectedRecord {
            id: 0,
            at: incoming.recv,
            topic: incoming.publish.topic.chars().take(256).collect(),
            reason: reject.reason.as_str().to_string(),
            detail: reject.detail.clone(),
            size: payload.len(),
            payload: String::from_utf8_lossy(kept).into_owned(),
            truncated: kept.len() < payload.len(),
        });
        tally
            .last_rejected_topic
            .clone_from(&incoming.publish.topic);
        tally.rejected.push(reject);
    }

    fn count(&self, tally: Tally) {
        for ((channel, class), n) in &tally.stored {
            self.metrics
                .received
                .with_label_values(&[channel.as_str(), class])
                .inc_by(*n);
        }
        self.metrics.duplicates.inc_by(tally.duplicates);
        self.metrics.seq_gaps.inc_by(tally.gaps);
        for r in &tally.rejected {
            self.metrics
                .rejected
                .with_label_values(&[r.reason.as_str()])
                .inc();
        }
        // One line per batch, not per payload: a flood of garbage must not flood the log.
        if let Some(last) = tally.rejected.last() {
            warn!(
                count = tally.rejected.len(),
                reason = %last.reason,
                detail = %last.detail,
                topic = %tally.last_rejected_topic,
                "payloads rejected"
            );
        }
    }

    /// Timers: silent devices, rule timers, escalation steps.
    async fn tick(&mut self) -> Result<(), StoreError> {
        let now = crate::now_ms();
        let mut fx = Effects::default();
        let gone = self.registry.sweep(now);
        if !gone.is_empty() {
            warn!(count = gone.len(), first = %gone[0], "devices silent for 3 heartbeats: offline");
        }
        let mut signals = Vec::new();
        for id in &gone {
            if let Some(d) = self.registry.get(id) {
                signals.extend(self.engine.on_state(d, now));
            }
        }
        signals.extend(self.engine.tick(now));
        for s in signals {
            fx.extend(self.book.signal(&s, now));
        }
        fx.extend(self.book.tick(now));
        self.commit(WriteSet::default(), fx).await?;
        for ((class, state), n) in self.registry.counts() {
            self.metrics
                .devices
                .with_label_values(&[class, state])
                .set(n as i64);
        }
        self.metrics
            .store_bytes
            .set(i64::try_from(self.store.size_on_disk()).unwrap_or(i64::MAX));
        Ok(())
    }
}

/// The staff id of `linli/{site}/staff/{id}/ack`.
fn staff_ack_topic<'a>(site: &str, topic: &'a str) -> Option<&'a str> {
    let rest = topic
        .strip_prefix("linli/")?
        .strip_prefix(site)?
        .strip_prefix("/staff/")?;
    rest.strip_suffix("/ack").filter(|id| !id.contains('/'))
}

/// The time a sample is filed under: the device's clock when plausible, else the hub's.
pub fn sample_time(ts: Option<u64>, recv: u64) -> u64 {
    match ts {
        Some(ts) if ts <= recv + FUTURE_SKEW_MS && ts + PAST_SKEW_MS >= recv => ts,
        _ => recv,
    }
}

/// Logs a fatal store error with context.
pub fn fatal(e: &StoreError) {
    error!(error = %e, "store failed; stopping so that nothing is acknowledged unsafely");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_ack_topics() {
        assert_eq!(
            staff_ack_topic("sg", "linli/sg/staff/wang/ack"),
            Some("wang")
        );
        assert_eq!(staff_ack_topic("sg", "linli/sg/staff/wang/notify"), None);
        assert_eq!(staff_ack_topic("sg", "linli/sg/staff/a/b/ack"), None);
        assert_eq!(staff_ack_topic("sg", "linli/other/staff/wang/ack"), None);
    }

    #[test]
    fn implausible_device_clocks_fall_back_to_the_hub() {
        let recv = 1_800_000_000_000;
        assert_eq!(sample_time(Some(recv - 5_000), recv), recv - 5_000);
        assert_eq!(sample_time(Some(5), recv), recv);
        assert_eq!(sample_time(Some(recv + FUTURE_SKEW_MS + 1), recv), recv);
        assert_eq!(sample_time(None, recv), recv);
    }
}
