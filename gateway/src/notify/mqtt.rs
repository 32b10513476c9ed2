//! A publisher on its own MQTT connection; each publish returns once the broker's PUBACK for it
//! came back. Publishes overlap: a driver task polls the connection all the time and matches
//! acknowledgements to waiting callers by packet id, so one slow round trip does not hold up the
//! next notification.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};
use tokio::sync::oneshot;

/// Why a publish was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The request could not be queued.
    #[error("publish not queued: {0}")]
    Client(#[from] rumqttc::ClientError),
    /// The connection failed before the PUBACK.
    #[error("broker connection lost before the PUBACK")]
    Connection,
    /// No PUBACK in time.
    #[error("no PUBACK within {0:?}")]
    Timeout(Duration),
}

/// Callers waiting for their PUBACK.
#[derive(Debug, Default)]
struct Waiting {
    /// Requested, not yet written to the socket: in request order, which is the order rumqttc
    /// writes them and assigns packet ids.
    queued: VecDeque<oneshot::Sender<()>>,
    /// Written, by packet id.
    sent: HashMap<u16, oneshot::Sender<()>>,
}

#[derive(Debug)]
struct Shared {
    client: AsyncClient,
    waiting: Mutex<Waiting>,
    timeout: Duration,
}

impl Shared {
    fn waiting(&self) -> std::sync::MutexGuard<'_, Waiting> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The publisher handle; cheap to clone.
#[derive(Debug, Clone)]
pub struct Publisher {
    shared: Arc<Shared>,
}

/// In-flight publishes rumqttc keeps per connection (its default inflight limit is 100).
const REQUESTS: usize = 256;

impl Publisher {
    /// A publisher connecting as `client_id` to `host:port`; spawns its driver on the current
    /// tokio runtime. The driver ends when the last handle is dropped.
    pub fn new(client_id: String, host: &str, port: u16, timeout: Duration) -> Self {
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true);
        let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
        crate::ingest::no_delay(&mut eventloop);
        let shared = Arc::new(Shared {
            client,
            waiting: Mutex::default(),
            timeout,
        });
        tokio::spawn(drive(eventloop, Arc::downgrade(&shared)));
        Publisher { shared }
    }

    /// Publishes at QoS 1 and returns once the broker acknowledged it.
    pub async fn publish(
        &self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        let (tx, rx) = oneshot::channel();
        {
            // Queue the waiter and the request under one lock so their orders agree.
            let mut waiting = self.shared.waiting();
            self.shared
                .client
                .try_publish(topic, QoS::AtLeastOnce, retain, payload)?;
            waiting.queued.push_back(tx);
        }
        match tokio::time::timeout(self.shared.timeout, rx).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(PublishError::Connection),
            Err(_) => Err(PublishError::Timeout(self.shared.timeout)),
        }
    }
}

/// Polls the connection, pairing each written publish with its caller and each PUBACK with its
/// publish. On a connection error every waiter is failed and nothing stale is resent, so an
/// acknowledgement can never be credited to the wrong caller; the outbox retries the failed ones.
async fn drive(mut eventloop: EventLoop, shared: Weak<Shared>) {
    loop {
        let event = eventloop.poll().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        match event {
            Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                let mut waiting = shared.waiting();
                if let Some(tx) = waiting.queued.pop_front() {
                    waiting.sent.insert(pkid, tx);
                }
            }
            Ok(Event::Incoming(Packet::PubAck(ack))) => {
                if let Some(tx) = shared.waiting().sent.remove(&ack.pkid) {
                    let _ = tx.send(());
                }
            }
            Ok(_) => {}
            Err(e) => {
                {
                    let mut waiting = shared.waiting();
                    // Requests still in the channel or kept for a resend would pair with the
                    // wrong waiters: drop them with their waiters.
                    eventloop.clean();
                    eventloop.pending.clear();
                    waiting.queued.clear();
                    waiting.sent.clear();
                }
                drop(shared);
                tracing::warn!(error = %e, "notification publisher lost the broker; reconnecting");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
}
