//! A publisher on its own MQTT connection that waits for the broker's PUBACK.

use std::time::Duration;

use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS};

/// Why a publish was not confirmed.
#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The request could not be queued.
    #[error("publish not queued: {0}")]
    Client(#[from] rumqttc::ClientError),
    /// The connection failed.
    #[error("broker connection: {0}")]
    Connection(#[from] rumqttc::ConnectionError),
    /// No PUBACK in time.
    #[error("no PUBACK within {0:?}")]
    Timeout(Duration),
}

/// Publishes one message at a time and waits for its acknowledgement.
pub struct Publisher {
    client: AsyncClient,
    eventloop: EventLoop,
    timeout: Duration,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher connecting as `client_id` to `host:port`.
    pub fn new(client_id: String, host: &str, port: u16, timeout: Duration) -> Self {
        let mut options = MqttOptions::new(client_id, host, port);
        options
            .set_keep_alive(Duration::from_secs(30))
            .set_clean_session(true);
        let (client, eventloop) = AsyncClient::new(options, 16);
        Publisher {
            client,
            eventloop,
            timeout,
        }
    }

    /// Publishes at QoS 1 and returns once the broker acknowledged it.
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: Vec<u8>,
        retain: bool,
    ) -> Result<(), PublishError> {
        self.client
            .try_publish(topic, QoS::AtLeastOnce, retain, payload)?;
        let eventloop = &mut self.eventloop;
        let wait = async {
            // The first publish to go out after ours was queued is ours; its PUBACK confirms it.
            let mut pkid = None;
            loop {
                match eventloop.poll().await? {
                    Event::Outgoing(Outgoing::Publish(id)) if pkid.is_none() => pkid = Some(id),
                    Event::Incoming(Packet::PubAck(ack)) if Some(ack.pkid) == pkid => return Ok(()),
                    _ => {}
                }
            }
        };
        match tokio::time::timeout(self.timeout, wait).await {
            Ok(result) => result,
            Err(_) => Err(PublishError::Timeout(self.timeout)),
        }
    }
}
