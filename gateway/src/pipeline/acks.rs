//! PUBACKs waiting for room in rumqttc's request channel.
//!
//! The channel is drained only by the event loop, and the event loop waits while the ingest queue
//! is full, so awaiting room there could deadlock (seen with 100k messages queued at mosquitto,
//! which does not keep to its in-flight limit once PUBACKs flow). Acknowledgements are therefore
//! queued here, in receive order, and handed over as fast as the channel takes them; the worker
//! never waits, so the ingest queue drains and the event loop runs again.

use std::collections::VecDeque;

use rumqttc::{AsyncClient, ClientError, Publish};
use tracing::warn;

/// Acknowledgements not yet handed to rumqttc, oldest first.
#[derive(Debug, Default)]
pub(super) struct Acks {
    pending: VecDeque<(u64, Publish)>,
}

impl Acks {
    /// Queues the acknowledgement of `publish`, received in session `epoch`. Only the packet id
    /// and QoS are kept, not the payload.
    pub(super) fn push(&mut self, epoch: u64, publish: &Publish) {
        let mut ack = Publish::new("", publish.qos, Vec::<u8>::new());
        ack.pkid = publish.pkid;
        self.pending.push_back((epoch, ack));
    }

    /// Hands over what the channel takes, in order. Acknowledgements of an older session are
    /// dropped: their packet ids may now name other messages.
    pub(super) fn flush(&mut self, client: &AsyncClient, epoch: u64) {
        while let Some((e, ack)) = self.pending.front() {
            if *e != epoch {
                self.pending.pop_front();
                continue;
            }
            match client.try_ack(ack) {
                Ok(()) => {
                    self.pending.pop_front();
                }
                // Full (or the client is being rebuilt): try again on the next pass.
                Err(ClientError::TryRequest(_)) => break,
                Err(e) => {
                    warn!(error = %e, "acknowledgement not queued; the broker will redeliver");
                    self.pending.pop_front();
                }
            }
        }
    }

    /// True when nothing waits.
    pub(super) fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
