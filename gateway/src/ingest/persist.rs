//! The persist worker: decode a batch, store it with one write per tree, flush, then acknowledge
//! in receive order. This is invariant 1: nothing is acknowledged before it is durable (or
//! recorded as rejected), so a `kill -9` loses nothing the broker considers delivered.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use linli_protocols::{Channel, DeviceTopic, Limits, Message, Reject, TopicError, decode};
use rumqttc::{AsyncClient, QoS};
use tokio::sync::{mpsc, watch};
use tracing::{error, warn};

use super::{Incoming, Session};
use crate::devices::Registry;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{DeviceState, EventRecord, RejectedRecord, Store, StoreError, WriteSet};

/// Most messages stored by one batch (one `apply_batch` + one flush).
pub const MAX_BATCH: usize = 4_096;

/// Rejected payloads are kept up to this many bytes.
const KEEP_PAYLOAD: usize = 1_024;

/// Device clocks further off than this from the hub's are not trusted for ordering.
const FUTURE_SKEW_MS: u64 = 10 * 60 * 1_000;
const PAST_SKEW_MS: u64 = 400 * 86_400 * 1_000;

/// The worker's state; it owns the device registry.
#[derive(Debug)]
pub struct Persist {
    /// The store.
    pub store: Store,
    /// The registry, loaded from the store.
    pub registry: Registry,
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
}

/// Per-batch counts, applied to the metrics once the batch is durable.
#[derive(Debug, Default)]
struct Tally {
    stored: [u64; 4],
    rejected: Vec<Reject>,
    last_rejected_topic: String,
    duplicates: u64,
    gaps: u64,
}

impl Persist {
    /// Runs until shutdown or until the store fails (then the daemon must stop: nothing more can
    /// be acknowledged safely).
    pub async fn run(
        mut self,
        mut rx: mpsc::Receiver<Incoming>,
        mut shutdown: Shutdown,
    ) -> Result<(), StoreError> {
        let mut batch = Vec::with_capacity(MAX_BATCH);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.wait() => break,
                n = rx.recv_many(&mut batch, MAX_BATCH) => {
                    if n == 0 {
                        break;
                    }
                    self.handle(&mut batch).await?;
                }
                _ = tick.tick() => self.sweep().await?,
            }
        }
        let mut set = WriteSet::default();
        self.registry.persist(&mut set);
        self.store.apply(set)?;
        self.store.flush().await
    }

    async fn handle(&mut self, batch: &mut Vec<Incoming>) -> Result<(), StoreError> {
        let started = Instant::now();
        let mut set = WriteSet::default();
        let mut tally = Tally::default();
        for incoming in batch.iter() {
            self.classify(incoming, &mut set, &mut tally);
        }
        self.registry.persist(&mut set);
        self.store.apply(set)?;
        self.store.flush().await?;
        self.metrics
            .batch_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_messages.observe(batch.len() as f64);
        self.count(tally);

        // PUBACKs in receive order, as MQTT requires; only for the session they came in.
        let client = self.clients.borrow().clone();
        let epoch = self.session.epoch.load(Ordering::Acquire);
        for incoming in batch.drain(..) {
            if incoming.publish.qos != QoS::AtMostOnce && incoming.epoch == epoch {
                if let Err(e) = client.ack(&incoming.publish).await {
                    warn!(error = %e, "acknowledgement not queued; the broker will redeliver");
                }
            }
        }
        Ok(())
    }

    fn classify(&mut self, incoming: &Incoming, set: &mut WriteSet, tally: &mut Tally) {
        let publish = &incoming.publish;
        let topic = match DeviceTopic::parse(&self.site, &publish.topic) {
            Ok(t) if t.channel != Channel::Cmd => t,
            // The hub's own topics and commands to devices travel under the same wildcard.
            Ok(_) | Err(TopicError::Reserved(_)) => return,
            Err(e) => return self.reject(incoming, Reject::from(&e), set, tally),
        };
        // An empty retained payload clears a retained announce or status; nothing to keep.
        if publish.payload.is_empty() && publish.retain {
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
        let seen = self
            .registry
            .observe(id, &message, publish.retain, incoming.recv);
        if seen.duplicate {
            tally.duplicates += 1;
            return;
        }
        tally.gaps += seen.gap;
        let recv = incoming.recv;
        match &message {
            Message::Telemetry(t) => {
                set.sample(id, sample_time(t.ts, recv), t.seq, recv, &t.values)
            }
            Message::Event(e) => set.event(
                id,
                &EventRecord {
                    ts: sample_time(e.ts, recv),
                    seq: e.seq,
                    recv,
                    kind: e.kind.clone(),
                    data: e.data.clone(),
                },
            ),
            Message::Status(_) | Message::Announce(_) => {}
        }
        let slot = match topic.channel {
            Channel::Telemetry => 0,
            Channel::Event => 1,
            Channel::Status => 2,
            _ => 3,
        };
        tally.stored[slot] += 1;
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
        for (slot, channel) in [
            Channel::Telemetry,
            Channel::Event,
            Channel::Status,
            Channel::Announce,
        ]
        .iter()
        .enumerate()
        {
            if tally.stored[slot] > 0 {
                self.metrics
                    .received
                    .with_label_values(&[channel.as_str()])
                    .inc_by(tally.stored[slot]);
            }
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

    async fn sweep(&mut self) -> Result<(), StoreError> {
        let gone = self.registry.sweep(crate::now_ms());
        if !gone.is_empty() {
            warn!(count = gone.len(), first = %gone[0], "devices silent for 3 heartbeats: offline");
            let mut set = WriteSet::default();
            self.registry.persist(&mut set);
            self.store.apply(set)?;
            self.store.flush().await?;
        }
        for state in DeviceState::ALL {
            self.metrics
                .devices
                .with_label_values(&[state.as_str()])
                .set(self.registry.count(state) as i64);
        }
        self.metrics
            .store_bytes
            .set(i64::try_from(self.store.size_on_disk()).unwrap_or(i64::MAX));
        Ok(())
    }
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
