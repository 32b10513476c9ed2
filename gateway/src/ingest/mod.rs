//! MQTT in: one task drives the rumqttc event loop and hands each publish, unacknowledged, to the
//! pipeline worker ([`crate::pipeline`]), which stores a batch, flushes, and only then acknowledges.

pub mod dedup;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use rumqttc::{
    AsyncClient, ConnectionError, Event, EventLoop, MqttOptions, Packet, Publish, QoS, StateError,
};
use tokio::sync::{mpsc, watch};
use tracing::{debug, info, warn};

use crate::config::Config;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// Publishes waiting for the persist worker. Full: the event loop waits (the broker then holds
/// messages back), which is the backpressure we want; nothing is dropped.
pub const INGEST_QUEUE: usize = 8_192;

/// rumqttc request channel, where acknowledgements go. The pipeline never waits for room here
/// (see `pipeline::acks`), so its size only sets how many PUBACKs go out per event-loop turn.
const REQUEST_QUEUE: usize = 2 * INGEST_QUEUE;

/// Largest packet read from the broker: the MQTT maximum. Anything the broker delivers must reach
/// the decoder, to be rejected as `oversize` and kept; a lower limit would drop the connection and
/// the broker would redeliver the same message forever. Cap message size at the broker
/// (mosquitto `max_packet_size`) to bound memory.
const MAX_PACKET: usize = 268_435_455;

/// Where the broker is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerAddr {
    /// A TCP broker.
    Tcp {
        /// Host name or address.
        host: String,
        /// Port.
        port: u16,
    },
    /// The in-process demo broker.
    Embedded,
}

impl BrokerAddr {
    /// Parses `mqtt://host[:port]`, `tcp://host[:port]` or `embedded`.
    pub fn parse(url: &str) -> Result<Self, String> {
        if url == "embedded" {
            return Ok(BrokerAddr::Embedded);
        }
        let rest = url
            .strip_prefix("mqtt://")
            .or_else(|| url.strip_prefix("tcp://"))
            .ok_or_else(|| format!("`{url}` is neither mqtt://HOST:PORT nor \"embedded\""))?;
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h,
                p.parse()
                    .map_err(|_| format!("`{p}` in `{url}` is not a port number"))?,
            ),
            _ => (rest, 1883),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("`{url}` has no host"));
        }
        Ok(BrokerAddr::Tcp {
            host: host.to_string(),
            port,
        })
    }
}

/// What the ingest worker needs to know of each publish.
#[derive(Debug)]
pub struct Incoming {
    /// The publish, still unacknowledged.
    pub publish: Publish,
    /// The broker session it arrived in (see [`Session`]).
    pub epoch: u64,
    /// Hub receive time, ms.
    pub recv: u64,
}

/// Shared MQTT session state.
#[derive(Debug, Default)]
pub struct Session {
    /// Bumped whenever the broker starts a fresh session: acknowledgements of messages from an
    /// older session must not be sent, because their packet ids may now name other messages.
    pub epoch: AtomicU64,
    /// True while subscribed.
    pub subscribed: AtomicBool,
}

/// Runs the MQTT connection until shutdown: connect, subscribe, forward publishes, reconnect with
/// backoff, and rebuild the client when rumqttc's state wedges.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    config: Arc<Config>,
    addr: (String, u16),
    mut eventloop: EventLoop,
    tx: mpsc::Sender<Incoming>,
    clients: watch::Sender<AsyncClient>,
    session: Arc<Session>,
    metrics: Metrics,
    mut shutdown: Shutdown,
) {
    let topic = format!("linli/{}/+/+", config.site.id);
    let mut backoff = Backoff::default();
    loop {
        let event = tokio::select! {
            _ = shutdown.wait() => break,
            event = eventloop.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let incoming = Incoming {
                    publish,
                    epoch: session.epoch.load(Ordering::Acquire),
                    recv: crate::now_ms(),
                };
                let sent = tokio::select! {
                    _ = shutdown.wait() => break,
                    sent = tx.send(incoming) => sent,
                };
                if sent.is_err() {
                    break;
                }
            }
            Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                if !ack.session_present {
                    session.epoch.fetch_add(1, Ordering::AcqRel);
                }
                info!(
                    session_present = ack.session_present,
                    "connected to the broker"
                );
                // The broker may remember the subscription; subscribing again is harmless and
                // covers a broker that lost its state.
                let client = clients.borrow().clone();
                let filters = [
                    topic.clone(),
                    format!("linli/{}/staff/+/ack", config.site.id),
                ]
                .map(|path| rumqttc::SubscribeFilter::new(path, QoS::AtLeastOnce));
                if let Err(e) = client.try_subscribe_many(filters) {
                    warn!(error = %e, "subscribe request not queued");
                }
            }
            Ok(Event::Incoming(Packet::SubAck(_))) => {
                session.subscribed.store(true, Ordering::Release);
                metrics.mqtt_connected.set(1);
                backoff.reset();
                info!(%topic, "subscribed");
            }
            Ok(other) => debug!(event = ?other, "mqtt"),
            Err(e) => {
                session.subscribed.store(false, Ordering::Release);
                metrics.mqtt_connected.set(0);
                metrics.mqtt_reconnects.inc();
                let delay = backoff.next();
                warn!(error = %e, retry_in_ms = delay.as_millis() as u64, "broker connection lost");
                if wedged(&e) {
                    warn!("rumqttc state wedged; rebuilding the client");
                    let (client, fresh) = client(&config, &addr);
                    clients.send_replace(client);
                    eventloop = fresh;
                }
                tokio::select! {
                    _ = shutdown.wait() => break,
                    _ = tokio::time::sleep(delay) => {}
                }
            }
        }
    }
    session.subscribed.store(false, Ordering::Release);
    let client = clients.borrow().clone();
    let _ = client.try_disconnect();
    // Let the disconnect go out; bounded so shutdown never hangs on a dead broker.
    let _ = tokio::time::timeout(Duration::from_millis(200), async {
        while let Ok(event) = eventloop.poll().await {
            if matches!(event, Event::Outgoing(rumqttc::Outgoing::Disconnect)) {
                break;
            }
        }
    })
    .await;
    info!("mqtt stopped");
}

/// rumqttc can wedge after a reconnect (bytebeamio/rumqtt #1014, #1056): a packet id collision
/// that never clears. A fresh client with the same id resumes the broker session cleanly.
fn wedged(e: &ConnectionError) -> bool {
    matches!(e, ConnectionError::MqttState(StateError::CollisionTimeout))
}

/// A client and event loop for the broker at `host:port`: persistent session, manual acks.
pub fn client(config: &Config, (host, port): &(String, u16)) -> (AsyncClient, EventLoop) {
    let mut options = MqttOptions::new(config.client_id(), host.clone(), *port);
    options
        .set_keep_alive(config.mqtt.keep_alive.0)
        .set_clean_session(false)
        .set_manual_acks(true)
        // Oversize payloads must reach the decoder to be rejected and kept, not kill the link.
        .set_max_packet_size(MAX_PACKET, 1 << 20)
        .set_request_channel_capacity(REQUEST_QUEUE);
    if let (Some(user), Some(password)) = (&config.mqtt.username, &config.mqtt.password) {
        options.set_credentials(user.clone(), password.clone());
    } else if let Some(user) = &config.mqtt.username {
        options.set_credentials(user.clone(), "");
    }
    let (client, mut eventloop) = AsyncClient::new(options, REQUEST_QUEUE);
    no_delay(&mut eventloop);
    (client, eventloop)
}

/// Turns Nagle's algorithm off (rumqttc leaves it on): a PUBACK or a notification is a small
/// packet that must leave now, not when the previous one's TCP acknowledgement comes back.
pub fn no_delay(eventloop: &mut EventLoop) {
    let mut network = eventloop.network_options();
    network.set_tcp_nodelay(true);
    eventloop.set_network_options(network);
}

/// Exponential backoff from 100 ms to 10 s.
#[derive(Debug)]
struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Backoff(Duration::from_millis(100))
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
        d
    }
    fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls() {
        let tcp = |h: &str, p| {
            Ok(BrokerAddr::Tcp {
                host: h.into(),
                port: p,
            })
        };
        assert_eq!(
            BrokerAddr::parse("mqtt://127.0.0.1:1884"),
            tcp("127.0.0.1", 1884)
        );
        assert_eq!(BrokerAddr::parse("tcp://broker"), tcp("broker", 1883));
        assert_eq!(BrokerAddr::parse("mqtt://[::1]:1885"), tcp("::1", 1885));
        assert_eq!(BrokerAddr::parse("embedded"), Ok(BrokerAddr::Embedded));
        assert!(BrokerAddr::parse("http://x").is_err());
        assert!(BrokerAddr::parse("mqtt://:1883").is_err());
        assert!(BrokerAddr::parse("mqtt://h:port").is_err());
    }

    #[test]
    fn backoff_doubles_to_a_cap() {
        let mut b = Backoff::default();
        let delays: Vec<_> = (0..9).map(|_| b.next().as_millis()).collect();
        assert_eq!(
            delays,
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000]
        );
    }
}
