//! Delivery from the durable outbox. A notification is in the outbox before it is sent and leaves
//! it only once its receiver confirmed it (HTTP 2xx, SMTP 250, PUBACK, an open console). A failed
//! attempt is retried with exponential backoff and jitter; after `[notify] max_age` on one channel
//! the same message (its own idempotency key per channel) moves to the person's next channel.
//! Every attempt leaves an audit record and a receipt in the alarm's timeline.
//!
//! Deliveries run as concurrent tasks: at most `[notify] concurrency` per receiver and
//! `max_in_flight` in all, each call bounded by `timeout`, so a hanging receiver only ever holds
//! its own slots. The retained alarm state on `linli/{site}/alarms/{id}` goes out the same way.

mod channels;
mod console;
mod deliver;
mod email;
mod http;
pub mod link;
mod mqtt;
pub mod text;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tracing::{info, warn};

pub use channels::{Adapter, Outgoing, dingtalk_sign, percent_encode, signature, sms_body};
pub use console::{Console, ConsoleMessage, Watch};
pub use deliver::receipt_line;
pub use link::{Claim, LinkKey, TokenError};
pub use mqtt::{PublishError, Publisher};

use crate::config::{Channel, Config, NotifyConfig};
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::store::{OutboxItem, OutboxKind, Store, StoreError};

/// Why one attempt failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The request could not be built.
    #[error("cannot build the request: {0}")]
    Request(String),
    /// No connection, or it broke.
    #[error("connection: {0}")]
    Connection(String),
    /// The receiver answered with an error status.
    #[error("HTTP {status}: {body}")]
    Status {
        /// Status.
        status: u16,
        /// The start of its body.
        body: String,
    },
    /// The receiver answered but refused (a robot's non-zero errcode).
    #[error("refused: {0}")]
    Refused(String),
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The mail server refused or failed.
    #[error("smtp: {0}")]
    Smtp(String),
    /// The broker did not confirm.
    #[error("mqtt: {0}")]
    Mqtt(String),
    /// Nobody has the console open.
    #[error("no console of this person is open")]
    NoListener,
    /// The channel's section is missing from the configuration.
    #[error("{0} is not configured")]
    Unconfigured(&'static str),
}

/// Retry delay after `attempts` failures: `base` doubling up to `max`, plus up to 25 % jitter.
pub fn backoff_ms(attempts: u32, base: u64, max: u64, jitter: u64) -> u64 {
    let delay = base
        .saturating_mul(1 << attempts.saturating_sub(1).min(20))
        .min(max);
    delay + jitter % (delay / 4 + 1)
}

/// A person as the notifier needs them.
#[derive(Debug, Clone)]
pub struct Recipient {
    /// Display name.
    pub name: String,
    /// `zh-CN` or `en`.
    pub lang: String,
    /// Channels in order of preference (never empty).
    pub channels: Vec<Channel>,
    /// May see residents' names.
    pub sees_residents: bool,
}

/// What every delivery shares: people, limits, the link key and the channel adapters.
#[derive(Debug)]
pub struct Dispatch {
    /// Staff by id.
    pub people: HashMap<String, Recipient>,
    /// Residents' names by household.
    pub residents: HashMap<String, Vec<String>>,
    /// Limits.
    pub limits: NotifyConfig,
    /// Signs acknowledgement links.
    pub link: Arc<LinkKey>,
    /// Base of links.
    pub public_url: String,
    /// Site offset from UTC, seconds.
    pub utc_offset: i32,
    adapters: deliver::Adapters,
    receivers: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl Dispatch {
    /// From the configuration (validated). Fails only if TLS or SMTP cannot be set up.
    pub fn new(
        config: &Config,
        link: Arc<LinkKey>,
        publisher: Publisher,
        console: Console,
    ) -> Result<Self, String> {
        let people = config
            .staff
            .iter()
            .map(|s| {
                let channels: Vec<Channel> =
                    s.notify.iter().filter_map(|c| c.channel().ok()).collect();
                let recipient = Recipient {
                    name: s.name.clone().unwrap_or_else(|| s.id.clone()),
                    lang: s.lang.clone(),
                    channels: if channels.is_empty() {
                        vec![Channel::Mqtt]
                    } else {
                        channels
                    },
                    sees_residents: s.roles.iter().any(|r| r.sees_residents()),
                };
                (s.id.clone(), recipient)
            })
            .collect();
        let residents = config
            .households
            .iter()
            .map(|h| (h.id.clone(), h.residents.clone()))
            .collect();
        Ok(Dispatch {
            people,
            residents,
            limits: config.notify.clone(),
            link,
            public_url: config.public_url(),
            utc_offset: crate::config::parse_utc_offset(&config.site.utc_offset)
                .unwrap_or(8 * 3_600),
            adapters: deliver::Adapters::new(config, publisher, console)?,
            receivers: Mutex::default(),
        })
    }

    /// A free slot of `receiver`, if any.
    fn slot(&self, receiver: &str) -> Option<OwnedSemaphorePermit> {
        let mut receivers = self.receivers.lock().unwrap_or_else(|e| e.into_inner());
        let limit = match receiver {
            // One connection, one message at a time.
            "mqtt" => 1,
            _ => self.limits.concurrency,
        };
        let semaphore = receivers
            .entry(receiver.to_string())
            .or_insert_with(|| Arc::new(Semaphore::new(limit)));
        semaphore.clone().try_acquire_owned().ok()
    }

    /// Which receiver an item goes to.
    fn receiver(&self, item: &OutboxItem) -> String {
        match &item.kind {
            OutboxKind::State { .. } => "mqtt".into(),
            OutboxKind::Notify {
                staff_id, channel, ..
            } => self
                .people
                .get(staff_id)
                .and_then(|p| p.channels.get(*channel as usize % p.channels.len()))
                .map_or_else(|| "dropped".into(), Channel::receiver),
        }
    }
}

/// The notifier task.
#[derive(Debug)]
pub struct Notifier {
    /// The store (outbox, alarms, audit, receipts).
    pub store: Store,
    /// Metrics.
    pub metrics: Metrics,
    /// Woken when deliveries are queued (and when one ends).
    pub wake: Arc<Notify>,
    /// People, limits, adapters.
    pub dispatch: Arc<Dispatch>,
}

/// Outbox ids being delivered; an entry leaves when its task ends, also when it is aborted.
type InFlight = Arc<Mutex<HashSet<u64>>>;

struct Running {
    id: u64,
    set: InFlight,
    wake: Arc<Notify>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&self.id);
        // The item was rescheduled or removed, or a slot came free: look again.
        self.wake.notify_one();
    }
}

/// The longest the notifier sleeps between passes.
const IDLE: Duration = Duration::from_secs(1);

/// The shortest time between two passes.
const MIN_GAP: Duration = Duration::from_millis(5);

impl Notifier {
    /// Delivers until shutdown; deliveries still running then are abandoned (they stay in the
    /// outbox and are sent after the next start).
    pub async fn run(self, mut shutdown: Shutdown) {
        let mut tasks = JoinSet::new();
        let in_flight = InFlight::default();
        let mut next = tokio::time::Instant::now();
        let mut last = next.checked_sub(MIN_GAP).unwrap_or(next);
        loop {
            tokio::select! {
                _ = shutdown.wait() => break,
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep_until(next) => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
            }
            // Each pass reads the whole outbox: with many deliveries ending at once, passes are
            // spaced so that a large backlog does not turn into back-to-back full scans.
            tokio::time::sleep_until(last + MIN_GAP).await;
            last = tokio::time::Instant::now();
            next = match self.pass(&mut tasks, &in_flight) {
                Ok(wait) => tokio::time::Instant::now() + wait,
                Err(e) => {
                    warn!(error = %e, "outbox pass failed; will retry");
                    tokio::time::Instant::now() + IDLE
                }
            };
        }
        tasks.shutdown().await;
        info!("notifier stopped");
    }

    /// Starts every due delivery that has a free slot; returns how long until the next is due.
    fn pass(&self, tasks: &mut JoinSet<()>, in_flight: &InFlight) -> Result<Duration, StoreError> {
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
        let mut due_in = IDLE.as_millis() as u64;
        for item in waiting {
            if item.next_at > now {
                due_in = due_in.min(item.next_at - now);
                continue;
            }
            if tasks.len() >= self.dispatch.limits.max_in_flight {
                break;
            }
            let mut running = in_flight.lock().unwrap_or_else(|e| e.into_inner());
            if running.contains(&item.id) {
                continue;
            }
            // The list may predate a delivery that ended meanwhile (removed or rescheduled):
            // only the item as stored now counts. No task holds it (it is not in flight), so
            // it cannot change between this read and the spawn.
            let Some(item) = self.store.outbox_item(item.id)? else {
                continue;
            };
            if item.next_at > now {
                continue;
            }
            // A receiver with no free slot keeps its items waiting here, not in tasks.
            let Some(slot) = self.dispatch.slot(&self.dispatch.receiver(&item)) else {
                continue;
            };
            running.insert(item.id);
            drop(running);
            let guard = Running {
                id: item.id,
                set: in_flight.clone(),
                wake: self.wake.clone(),
            };
            let job = deliver::Job {
                store: self.store.clone(),
                metrics: self.metrics.clone(),
                dispatch: self.dispatch.clone(),
            };
            tasks.spawn(async move {
                job.run(item).await;
                drop(slot);
                drop(guard);
            });
        }
        Ok(Duration::from_millis(due_in.max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_doubles_to_its_maximum_with_bounded_jitter() {
        assert_eq!(backoff_ms(1, 1_000, 60_000, 0), 1_000);
        assert_eq!(backoff_ms(4, 1_000, 60_000, 0), 8_000);
        assert_eq!(backoff_ms(30, 1_000, 60_000, 0), 60_000);
        assert_eq!(backoff_ms(u32::MAX, 1_000, 60_000, 0), 60_000);
        for j in 0..1_000 {
            let b = backoff_ms(3, 1_000, 60_000, j);
            assert!((4_000..=5_000).contains(&b), "{b}");
        }
    }
}
