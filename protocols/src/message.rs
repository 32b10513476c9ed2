//! The typed messages of the contract. They serialize to exactly what devices publish.

use alloc::collections::BTreeMap;
use alloc::string::{String, ToString};
use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A measured or reported value: a number, a boolean or a short string.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Any JSON number, as f64.
    Number(f64),
    /// `true` / `false`.
    Bool(bool),
    /// A short string (at most [`crate::Limits::max_text_len`] bytes).
    Text(String),
}

impl Value {
    /// The value as f64 when it is a number or a boolean (1.0 / 0.0).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Text(_) => None,
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Number(n) => s.serialize_f64(*n),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Text(t) => s.serialize_str(t),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, a boolean or a short string")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
                Ok(Value::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
                Ok(Value::Number(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
                Ok(Value::Number(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
                Ok(Value::Number(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Text(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Text(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Named values, ordered by name.
pub type Values = BTreeMap<String, Value>;

/// `telemetry`: measured values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Telemetry {
    /// Device clock, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// Per-device sequence number; a repeated one is a duplicate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// The readings.
    pub values: Values,
    /// Optional echo of the topic's device id; must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// `event`: something happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Device clock, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ts: Option<u64>,
    /// Per-device sequence number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seq: Option<u64>,
    /// Canonical event type: `sos`, `fall`, `door_forced`, `smoke`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// Flat details of the event.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub data: Values,
    /// Optional echo of the topic's device id; must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Reported connection state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StatusState {
    /// The device is connected.
    Online,
    /// The device said goodbye, or the broker published its LWT.
    Offline,
}

/// `status`: `"online"` / `"offline"` or an object with health details.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// Connection state.
    pub state: StatusState,
    /// Battery charge, 0–100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub battery_pct: Option<f64>,
    /// Radio signal strength, dBm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rssi: Option<i32>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fw: Option<String>,
    /// Optional echo of the topic's device id; must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// Where a device is installed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Building number or name (a JSON number is accepted too).
    #[serde(
        default,
        deserialize_with = "text_or_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub building: Option<String>,
    /// Unit (entrance) within the building.
    #[serde(
        default,
        deserialize_with = "text_or_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit: Option<String>,
    /// Floor; negative below ground.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i32>,
    /// Room or flat number.
    #[serde(
        default,
        deserialize_with = "text_or_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub room: Option<String>,
}

/// `announce`: a retained self-description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Announce {
    /// Dotted device kind: `care.sos_button`, `facility.smoke`, ...
    pub kind: String,
    /// Vendor model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Firmware version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fw: Option<String>,
    /// Installation place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// Heartbeat period in seconds; overrides the kind's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_s: Option<u32>,
    /// Optional echo of the topic's device id; must match it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
}

/// One decoded device message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// From `telemetry`.
    Telemetry(Telemetry),
    /// From `event`.
    Event(Event),
    /// From `status`.
    Status(Status),
    /// From `announce`.
    Announce(Announce),
}

impl Message {
    /// The device clock stamp, where the message has one.
    pub fn ts(&self) -> Option<u64> {
        match self {
            Message::Telemetry(t) => t.ts,
            Message::Event(e) => e.ts,
            Message::Status(_) | Message::Announce(_) => None,
        }
    }

    /// The sequence number, where the message has one.
    pub fn seq(&self) -> Option<u64> {
        match self {
            Message::Telemetry(t) => t.seq,
            Message::Event(e) => e.seq,
            Message::Status(_) | Message::Announce(_) => None,
        }
    }

    pub(crate) fn claimed_id(&self) -> Option<&str> {
        match self {
            Message::Telemetry(t) => t.device_id.as_deref(),
            Message::Event(e) => e.device_id.as_deref(),
            Message::Status(s) => s.device_id.as_deref(),
            Message::Announce(a) => a.device_id.as_deref(),
        }
    }
}

fn text_or_int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    struct V;
    impl Visitor<'_> for V {
        type Value = Option<String>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a string or an integer")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
    }
    d.deserialize_any(V)
}
