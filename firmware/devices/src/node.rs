//! The node state machine: readings and driver signals in, messages of the contract out.
//!
//! [`Node`] knows nothing of the transport. It numbers telemetry and events with one increasing
//! sequence (the hub treats a repeated `(device, seq)` as a duplicate), stamps them with the
//! device clock once [`Node::set_clock`] has been called (until then `ts` is left out and the hub
//! uses its receive time), emits a heartbeat every heartbeat period, and builds the retained
//! announce, the `online` status and the `offline` last will. The caller publishes each
//! [`Outgoing`] on [`Node::topic`] of its channel.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use linli_protocols::{
    Announce, Channel, DeviceTopic, Event, Location, Message, RESERVED_IDS, Status, StatusState,
    Telemetry, Value, Values, is_valid_id, is_valid_kind,
};

use crate::Signal;

/// Who the node is and how often it reports.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeConfig {
    /// The site id: the `{site}` topic level.
    pub site: String,
    /// The device id: the `{device_id}` topic level.
    pub device_id: String,
    /// Dotted device kind, e.g. `care.sos_button`.
    pub kind: String,
    /// Vendor model, announced.
    pub model: Option<String>,
    /// Firmware version, announced and in the `online` status.
    pub fw: Option<String>,
    /// Where the device is installed, announced.
    pub location: Option<Location>,
    /// Heartbeat period in ms; the hub declares the device offline after three missed ones.
    pub heartbeat_ms: u32,
    /// The first sequence number. It must exceed every number used before a restart, or the hub
    /// drops the new messages as duplicates: persist it, or derive it from a clock.
    pub first_seq: u64,
}

/// Why a [`NodeConfig`] was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The site id is not `[A-Za-z0-9_.-]{1,64}`.
    BadSite,
    /// The device id is not `[A-Za-z0-9_.-]{1,64}`.
    BadDeviceId,
    /// The device id is one the hub keeps for itself (`alarms`, `staff`, `hub`).
    ReservedDeviceId,
    /// The kind is not dotted lowercase like `care.sos_button`.
    BadKind,
    /// The heartbeat period is zero.
    ZeroHeartbeat,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::BadSite => "site id must match [A-Za-z0-9_.-]{1,64}",
            ConfigError::BadDeviceId => "device id must match [A-Za-z0-9_.-]{1,64}",
            ConfigError::ReservedDeviceId => "device ids alarms, staff and hub are the hub's",
            ConfigError::BadKind => "kind must be dotted lowercase like care.sos_button",
            ConfigError::ZeroHeartbeat => "heartbeat must be longer than zero",
        })
    }
}

impl core::error::Error for ConfigError {}

/// A message to publish: its channel, whether it is retained, and the message itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The topic's last level.
    pub channel: Channel,
    /// Publish with the retain flag (status and announce).
    pub retain: bool,
    /// The typed message.
    pub message: Message,
}

impl Outgoing {
    /// The JSON payload. A status with nothing but its state is the bare string
    /// (`"online"` / `"offline"`), as the contract spells the last will.
    pub fn payload(&self) -> Vec<u8> {
        // Serializing these types cannot fail: string keys only, no fallible Serialize impls.
        let json = match &self.message {
            Message::Telemetry(t) => serde_json::to_vec(t),
            Message::Event(e) => serde_json::to_vec(e),
            Message::Status(s) if *s == bare(s.state) => serde_json::to_vec(&s.state),
            Message::Status(s) => serde_json::to_vec(s),
            Message::Announce(a) => serde_json::to_vec(a),
        };
        json.unwrap_or_default()
    }
}

fn bare(state: StatusState) -> Status {
    Status {
        state,
        battery_pct: None,
        rssi: None,
        fw: None,
        device_id: None,
    }
}

/// The node: sequence numbers, clock, heartbeat and the latest readings.
#[derive(Debug, Clone)]
pub struct Node {
    config: NodeConfig,
    next_seq: u64,
    next_heartbeat_ms: Option<u64>,
    /// Epoch ms minus node ms, once the wall clock is known.
    clock_offset_ms: Option<i128>,
    values: Values,
}

impl Node {
    /// A node for `config`, checked against the contract's id and kind rules.
    pub fn new(config: NodeConfig) -> Result<Self, ConfigError> {
        if !is_valid_id(&config.site) {
            return Err(ConfigError::BadSite);
        }
        if !is_valid_id(&config.device_id) {
            return Err(ConfigError::BadDeviceId);
        }
        if RESERVED_IDS.contains(&config.device_id.as_str()) {
            return Err(ConfigError::ReservedDeviceId);
        }
        if !is_valid_kind(&config.kind) {
            return Err(ConfigError::BadKind);
        }
        if config.heartbeat_ms == 0 {
            return Err(ConfigError::ZeroHeartbeat);
        }
        Ok(Node {
            next_seq: config.first_seq,
            config,
            next_heartbeat_ms: None,
            clock_offset_ms: None,
            values: Values::new(),
        })
    }

    /// The configuration.
    pub const fn config(&self) -> &NodeConfig {
        &self.config
    }

    /// The full topic of `channel`: `linli/{site}/{device_id}/{channel}`.
    pub fn topic(&self, channel: Channel) -> String {
        DeviceTopic::format(&self.config.site, &self.config.device_id, channel)
    }

    /// Tells the node that node time `now_ms` is `epoch_ms` on the wall clock.
    pub fn set_clock(&mut self, now_ms: u64, epoch_ms: u64) {
        self.clock_offset_ms = Some(i128::from(epoch_ms) - i128::from(now_ms));
    }

    /// The device clock at node time `now_ms`, once known.
    pub fn ts(&self, now_ms: u64) -> Option<u64> {
        let offset = self.clock_offset_ms?;
        u64::try_from(i128::from(now_ms) + offset).ok()
    }

    /// The sequence number the next telemetry or event will carry.
    pub const fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = seq.saturating_add(1);
        seq
    }

    /// Records the latest reading of `name`, sent with every heartbeat. Non-finite numbers are
    /// refused by the hub, so they remove the reading instead.
    pub fn set_value(&mut self, name: &str, value: Value) {
        if matches!(value, Value::Number(n) if !n.is_finite()) {
            self.values.remove(name);
        } else {
            self.values.insert(name.to_string(), value);
        }
    }

    /// The latest readings.
    pub const fn values(&self) -> &Values {
        &self.values
    }

    /// The event for `signal` at node time `now_ms`.
    pub fn event(&mut self, now_ms: u64, signal: Signal) -> Outgoing {
        let event = Event {
            ts: self.ts(now_ms),
            seq: Some(self.take_seq()),
            kind: signal.kind().to_string(),
            data: signal.data(),
            device_id: None,
        };
        outgoing(Channel::Event, false, Message::Event(event))
    }

    /// A telemetry message with the latest readings, now; a status when there are none (an
    /// empty telemetry is not valid).
    pub fn report(&mut self, now_ms: u64) -> Outgoing {
        if self.values.is_empty() {
            return self.online();
        }
        let telemetry = Telemetry {
            ts: self.ts(now_ms),
            seq: Some(self.take_seq()),
            values: self.values.clone(),
            device_id: None,
        };
        outgoing(Channel::Telemetry, false, Message::Telemetry(telemetry))
    }

    /// The heartbeat when one is due at `now_ms`: at the first call, then every period. After a
    /// long stall the schedule restarts from now instead of sending a burst.
    pub fn poll(&mut self, now_ms: u64) -> Option<Outgoing> {
        let period = u64::from(self.config.heartbeat_ms);
        let due = self.next_heartbeat_ms.unwrap_or(now_ms);
        if now_ms < due {
            return None;
        }
        let next = due.saturating_add(period);
        self.next_heartbeat_ms = Some(if next <= now_ms {
            now_ms.saturating_add(period)
        } else {
            next
        });
        Some(self.report(now_ms))
    }

    /// The retained self-description.
    pub fn announce(&self) -> Outgoing {
        let announce = Announce {
            kind: self.config.kind.clone(),
            model: self.config.model.clone(),
            fw: self.config.fw.clone(),
            location: self.config.location.clone(),
            heartbeat_s: Some(self.config.heartbeat_ms.div_ceil(1_000)),
            device_id: None,
        };
        outgoing(Channel::Announce, true, Message::Announce(announce))
    }

    /// The retained `online` status, with firmware and battery where known.
    pub fn online(&self) -> Outgoing {
        let status = Status {
            fw: self.config.fw.clone(),
            battery_pct: self.values.get("battery_pct").and_then(Value::as_f64),
            ..bare(StatusState::Online)
        };
        outgoing(Channel::Status, true, Message::Status(status))
    }

    /// The last will: retained `"offline"` on the status topic. Also the goodbye on shutdown.
    pub fn last_will(&self) -> Outgoing {
        outgoing(
            Channel::Status,
            true,
            Message::Status(bare(StatusState::Offline)),
        )
    }
}

fn outgoing(channel: Channel, retain: bool, message: Message) -> Outgoing {
    Outgoing {
        channel,
        retain,
        message,
    }
}

#[cfg(test)]
mod tests;
