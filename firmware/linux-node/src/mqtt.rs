//! The MQTT stage: publishes what the sampler hands over, with the last will set, and says
//! `online` and the retained announce on every (re)connection.

use std::future::Future;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, LastWill, MqttOptions, Packet, QoS};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::sampler::Publication;

/// Capacity of the sampler → MQTT channel; when full the sampler drops the newest message.
/// At one heartbeat a minute this is about 17 hours of broker outage.
pub const OUTBOX: usize = 1_024;
/// Capacity of rumqttc's request channel (messages in flight to the event loop).
const REQUESTS: usize = 64;
/// Pause between connection attempts.
const RETRY: Duration = Duration::from_secs(1);
/// How long the goodbye may take at shutdown.
const GOODBYE: Duration = Duration::from_secs(3);

/// Client options for `host:port` with `will` as the last will.
pub fn options(client_id: &str, host: &str, port: u16, will: &Publication) -> MqttOptions {
    let mut o = MqttOptions::new(client_id, host, port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_last_will(LastWill::new(
        will.topic.clone(),
        will.payload.clone(),
        QoS::AtLeastOnce,
        will.retain,
    ));
    o
}

/// Runs until `shutdown` completes or the sampler goes away, then publishes `goodbye` and
/// disconnects. `hello` (status, announce) is published on every connection.
pub async fn run(
    options: MqttOptions,
    hello: Vec<Publication>,
    goodbye: Publication,
    mut rx: mpsc::Receiver<Publication>,
    shutdown: impl Future<Output = ()>,
) {
    let (client, mut eventloop) = AsyncClient::new(options, REQUESTS);
    let (connected_tx, mut connected_rx) = mpsc::channel::<()>(1);
    let mut events = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    info!("connected to the broker");
                    // A full slot means a greeting is already pending.
                    let _ = connected_tx.try_send(());
                }
                Ok(Event::Outgoing(rumqttc::Outgoing::Disconnect)) => break,
                Ok(_) => {}
                Err(e) => {
                    warn!(error = %e, "broker connection failed; retrying");
                    tokio::time::sleep(RETRY).await;
                }
            }
        }
    });
    // The greeting and the forwarding wait on a full request channel; the event loop must not.
    let greeter_client = client.clone();
    let greeter = tokio::spawn(async move {
        while connected_rx.recv().await.is_some() {
            for p in &hello {
                let (topic, payload) = (p.topic.clone(), p.payload.clone());
                if greeter_client
                    .publish(topic, QoS::AtLeastOnce, p.retain, payload)
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    });
    let forwarder_client = client.clone();
    let mut forwarder = tokio::spawn(async move {
        while let Some(p) = rx.recv().await {
            let sent = forwarder_client
                .publish(p.topic, QoS::AtLeastOnce, p.retain, p.payload)
                .await;
            if sent.is_err() {
                break;
            }
        }
    });
    tokio::select! {
        () = shutdown => info!("shutting down"),
        _ = &mut forwarder => warn!("the sampler stopped"),
    }
    forwarder.abort();
    greeter.abort();
    // A clean disconnect suppresses the last will, so say `offline` first.
    let bye = client.try_publish(goodbye.topic, QoS::AtLeastOnce, true, goodbye.payload);
    let disconnect = client.try_disconnect();
    if bye.is_err() || disconnect.is_err() {
        warn!("request queue full at shutdown; the broker will publish the last will");
    }
    if tokio::time::timeout(GOODBYE, &mut events).await.is_err() {
        events.abort();
    }
}
