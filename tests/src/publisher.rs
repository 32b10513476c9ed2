//! A QoS 1 publisher that knows exactly which of its messages the broker acknowledged.
//!
//! rumqttc reports `Outgoing::Publish(pkid)` when a publish is first written (and again when it
//! is retransmitted after a reconnect) and `Incoming::PubAck(pkid)` when the broker took it. The
//! driver pairs them: a pkid not yet in flight belongs to the oldest message handed to the client
//! and not yet written; a pkid already in flight is a retransmission. The request channel has
//! capacity 0, so no unwritten request is ever held inside rumqttc across a reconnect where it
//! could collide with a retransmission (bytebeamio/rumqtt #1014).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Outgoing, Packet, QoS};

/// Connection settings of a [`Publisher`].
#[derive(Debug, Clone)]
pub struct PubOptions {
    /// Broker port on 127.0.0.1.
    pub port: u16,
    /// Client id; keep it stable with `clean_session = false` to survive broker restarts.
    pub client_id: String,
    /// MQTT clean session. Default false (a persistent session).
    pub clean_session: bool,
    /// Last will: topic, payload, retain (QoS 1).
    pub last_will: Option<(String, Vec<u8>, bool)>,
    /// Unacknowledged messages in flight. Default 100.
    pub inflight: u16,
    /// Keep-alive. Default 30 s.
    pub keep_alive: Duration,
}

impl PubOptions {
    /// Defaults for `client_id` on `port`.
    pub fn new(port: u16, client_id: &str) -> PubOptions {
        PubOptions {
            port,
            client_id: client_id.to_string(),
            clean_session: false,
            last_will: None,
            inflight: 100,
            keep_alive: Duration::from_secs(30),
        }
    }
}

/// What the driver saw; shared with the publishing side.
#[derive(Debug, Default)]
struct State {
    /// Ids handed to rumqttc, not yet written.
    queued: VecDeque<u64>,
    /// pkid → id, written and not yet acknowledged.
    inflight: HashMap<u16, u64>,
    /// Ids acknowledged by the broker, in acknowledgement order.
    acked: Vec<u64>,
    connacks: u64,
    connected: bool,
    /// Sessions the broker had forgotten while messages were in flight (rumqttc then drops them).
    lost_sessions: u64,
    stray_acks: u64,
    errors: u64,
    last_error: String,
}

/// A handle on the publisher's progress, usable from another thread.
#[derive(Debug, Clone)]
pub struct Tracker(Arc<Mutex<State>>);

impl Tracker {
    /// Messages the broker acknowledged so far.
    pub fn acked_count(&self) -> usize {
        self.0.lock().unwrap().acked.len()
    }

    /// Ids of the acknowledged messages, in acknowledgement order.
    pub fn acked(&self) -> Vec<u64> {
        self.0.lock().unwrap().acked.clone()
    }

    /// True while connected to the broker.
    pub fn connected(&self) -> bool {
        self.0.lock().unwrap().connected
    }

    /// A one-line summary (for failure messages).
    pub fn summary(&self) -> String {
        let s = self.0.lock().unwrap();
        format!(
            "acked {}, in flight {}, queued {}, connacks {}, connection errors {} (last: {}), \
             lost sessions {}, stray acks {}",
            s.acked.len(),
            s.inflight.len(),
            s.queued.len(),
            s.connacks,
            s.errors,
            s.last_error,
            s.lost_sessions,
            s.stray_acks
        )
    }

    /// Waits until `n` messages are acknowledged.
    pub fn wait_acked(&self, n: usize, deadline: Duration) -> Result<Duration> {
        let took = crate::wait_until(deadline, &format!("{n} PUBACKs"), || {
            let s = self.0.lock().unwrap();
            s.acked.len() >= n || s.lost_sessions > 0
        })
        .with_context(|| self.summary())?;
        if self.0.lock().unwrap().lost_sessions > 0 {
            bail!(
                "the broker forgot the publisher's session: {}",
                self.summary()
            );
        }
        Ok(took)
    }
}

/// Books one event; true when it was a connection error.
fn record(shared: &Mutex<State>, event: Result<Event, rumqttc::ConnectionError>) -> bool {
    let mut s = shared.lock().unwrap();
    match event {
        Ok(Event::Outgoing(Outgoing::Publish(pkid))) if pkid != 0 => {
            if !s.inflight.contains_key(&pkid) {
                if let Some(id) = s.queued.pop_front() {
                    s.inflight.insert(pkid, id);
                }
            }
        }
        Ok(Event::Incoming(Packet::PubAck(ack))) => match s.inflight.remove(&ack.pkid) {
            Some(id) => s.acked.push(id),
            None => s.stray_acks += 1,
        },
        Ok(Event::Incoming(Packet::ConnAck(c))) => {
            s.connacks += 1;
            s.connected = true;
            // A reconnect into a fresh session: rumqttc drops what it held for the old one.
            let holding = !s.inflight.is_empty() || !s.queued.is_empty();
            if s.connacks > 1 && !c.session_present && holding {
                s.lost_sessions += 1;
            }
        }
        Ok(_) => {}
        Err(e) => {
            s.connected = false;
            s.errors += 1;
            s.last_error = e.to_string();
            return true;
        }
    }
    false
}

/// A blocking QoS 1 publisher with its own small tokio runtime driving rumqttc.
#[derive(Debug)]
pub struct Publisher {
    rt: Option<tokio::runtime::Runtime>,
    client: AsyncClient,
    driver: Option<tokio::task::JoinHandle<()>>,
    tracker: Tracker,
    next_id: u64,
}

impl Publisher {
    /// Connects (the connection is made by the driver; use [`Publisher::wait_connected`]).
    pub fn connect(opts: PubOptions) -> Result<Publisher> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .context("build the publisher runtime")?;
        let mut options = MqttOptions::new(opts.client_id.clone(), "127.0.0.1", opts.port);
        options
            .set_clean_session(opts.clean_session)
            .set_keep_alive(opts.keep_alive)
            .set_inflight(opts.inflight)
            // rumqttc's default 10 KiB would refuse the oversize payloads the tests send.
            .set_max_packet_size(4 << 20, 4 << 20);
        if let Some((topic, payload, retain)) = &opts.last_will {
            options.set_last_will(LastWill::new(
                topic.clone(),
                payload.clone(),
                QoS::AtLeastOnce,
                *retain,
            ));
        }
        let (client, mut eventloop) = AsyncClient::new(options, 0);
        let tracker = Tracker(Arc::new(Mutex::new(State::default())));
        let shared = tracker.0.clone();
        let driver = rt.spawn(async move {
            loop {
                let event = eventloop.poll().await;
                if record(&shared, event) {
                    // Not connected: rumqttc reconnects on the next poll; do not spin.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        });
        Ok(Publisher {
            rt: Some(rt),
            client,
            driver: Some(driver),
            tracker,
            next_id: 0,
        })
    }

    /// Waits until connected.
    pub fn wait_connected(&self, deadline: Duration) -> Result<()> {
        crate::wait_until(deadline, "the publisher to connect", || {
            self.tracker.connected()
        })
        .with_context(|| self.tracker.summary())?;
        Ok(())
    }

    /// The progress handle.
    pub fn tracker(&self) -> Tracker {
        self.tracker.clone()
    }

    /// Messages handed to the client so far (ids are `0..published()`).
    pub fn published(&self) -> u64 {
        self.next_id
    }

    /// Publishes `payload` to `topic` with QoS 1; returns the message id (0, 1, 2, ...).
    /// Blocks while the broker is unreachable, at most 120 s.
    pub fn publish_raw(&mut self, topic: &str, payload: Vec<u8>, retain: bool) -> Result<u64> {
        let id = self.next_id;
        self.tracker.0.lock().unwrap().queued.push_back(id);
        let rt = self.rt.as_ref().context("publisher closed")?;
        let sent = rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(120),
                self.client
                    .publish(topic, QoS::AtLeastOnce, retain, payload),
            )
            .await
        });
        match sent {
            Ok(Ok(())) => {
                self.next_id += 1;
                Ok(id)
            }
            Ok(Err(e)) => bail!("publish to {topic}: {e}"),
            Err(_) => bail!(
                "publish to {topic} blocked for 120 s: {}",
                self.tracker.summary()
            ),
        }
    }

    /// Publishes JSON to `linli/{site}/{device}/{channel}`.
    pub fn publish_json(
        &mut self,
        site: &str,
        device: &str,
        channel: &str,
        json: &serde_json::Value,
        retain: bool,
    ) -> Result<u64> {
        let topic = format!("linli/{site}/{device}/{channel}");
        self.publish_raw(&topic, serde_json::to_vec(json)?, retain)
    }

    /// Sends DISCONNECT (no last will), then stops the driver.
    pub fn disconnect(mut self) -> Result<()> {
        let rt = self.rt.as_ref().context("publisher closed")?;
        let client = self.client.clone();
        rt.block_on(async move {
            let _ = tokio::time::timeout(Duration::from_secs(5), client.disconnect()).await;
            // Give the event loop a moment to write it.
            tokio::time::sleep(Duration::from_millis(100)).await;
        });
        self.shutdown();
        Ok(())
    }

    /// Drops the TCP connection without DISCONNECT, as a crashed device would: the broker then
    /// publishes the last will.
    pub fn abort(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(driver) = self.driver.take() {
            driver.abort();
        }
        if let Some(rt) = self.rt.take() {
            // Dropping the runtime drops the aborted task and with it the event loop and socket.
            rt.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        self.shutdown();
    }
}
