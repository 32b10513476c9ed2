//! What the store keeps, as the API shows it.

use std::fmt;

use linli_protocols::{Location, Value, Values};
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Connection state of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    /// Heard from recently, or said `online`.
    Online,
    /// Said `offline` (or its LWT did), or missed three heartbeats.
    Offline,
}

impl DeviceState {
    /// Both states, for metric labels.
    pub const ALL: [DeviceState; 2] = [DeviceState::Online, DeviceState::Offline];

    /// Lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Online => "online",
            DeviceState::Offline => "offline",
        }
    }
}

/// How the hub came to know a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceSource {
    /// Declared in `[[device]]`.
    Config,
    /// Announced itself.
    Announce,
    /// First valid message, neither announced nor configured: unplaced until an integrator acts.
    FirstMessage,
}

/// Why the state last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StateReason {
    /// A `status` message (an `offline` one may be the broker's LWT).
    Status,
    /// Any other message from the device.
    Message,
    /// Three heartbeats without a message.
    Silence,
    /// Known (configured, or a retained announce) but not heard from yet.
    NotHeard,
}

/// The last event a device sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastEvent {
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Hub receive time, ms.
    pub at: u64,
}

/// A device in the registry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// Device id.
    pub id: String,
    /// Dotted kind, once known.
    pub kind: Option<String>,
    /// Vendor model.
    pub model: Option<String>,
    /// Firmware version.
    pub fw: Option<String>,
    /// Where it is; `None` means unplaced.
    pub location: Option<Location>,
    /// How the hub learnt of it.
    pub source: DeviceSource,
    /// Heartbeat period in seconds (three missed → offline).
    pub heartbeat_s: u32,
    /// Connection state.
    pub state: DeviceState,
    /// Why it is in that state.
    pub state_reason: StateReason,
    /// When the state began, ms.
    pub state_since: u64,
    /// First heard of, ms.
    pub first_seen: u64,
    /// Last message of any kind, ms; `None` for a configured device never heard from.
    pub last_seen: Option<u64>,
    /// Battery charge, from status or telemetry `battery_pct`.
    pub battery_pct: Option<f64>,
    /// Signal strength, dBm.
    pub rssi: Option<i32>,
    /// The latest value of each reading.
    pub last_values: LastValues,
    /// The latest event.
    pub last_event: Option<LastEvent>,
    /// Messages stored.
    pub messages: u64,
    /// Duplicates dropped (repeated sequence numbers).
    pub duplicates: u64,
    /// Sequence numbers never seen (lost between device and hub).
    pub seq_gaps: u64,
}

/// One telemetry sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sample {
    /// Sample time, ms: the device's clock when plausible, else the hub's.
    pub ts: u64,
    /// The device's sequence number, if it sent one.
    pub seq: Option<u64>,
    /// Hub receive time, ms.
    pub recv: u64,
    /// The readings.
    pub values: Values,
}

/// One device event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Event time, ms.
    pub ts: u64,
    /// The device's sequence number, if it sent one.
    pub seq: Option<u64>,
    /// Hub receive time, ms.
    pub recv: u64,
    /// Event type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Details.
    pub data: Values,
}

/// A payload the hub refused, kept for integrators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectedRecord {
    /// Position in the rejected list (increasing).
    pub id: u64,
    /// Hub receive time, ms.
    pub at: u64,
    /// The MQTT topic.
    pub topic: String,
    /// Classified reason (`malformed_json`, `oversize`, ...).
    pub reason: String,
    /// What exactly was wrong.
    pub detail: String,
    /// Payload size in bytes.
    pub size: usize,
    /// The payload (lossy UTF-8, at most 1 KiB).
    pub payload: String,
    /// True when `payload` was cut.
    pub truncated: bool,
}

/// A page of a list: items and the cursor of the next page.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    /// The items, oldest first.
    pub items: Vec<T>,
    /// Pass as `after` to get the next page; `null` at the end.
    pub next: Option<String>,
}

/// The latest value of each of a device's readings, ordered by name; serialized as a JSON object.
///
/// A sorted vector, not a `BTreeMap`: a device has a handful of readings, and a map's first node
/// allocates room for eleven (~540 B per device, 10.9 MiB of the heap with 20,000 devices).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LastValues(Vec<(Box<str>, Value)>);

impl LastValues {
    /// Sets one reading; allocates only for a reading not seen before.
    pub fn set(&mut self, name: &str, value: &Value) {
        match self.0.binary_search_by(|(k, _)| (**k).cmp(name)) {
            Ok(i) => self.0[i].1.clone_from(value),
            Err(i) => {
                self.0.reserve_exact(1);
                self.0.insert(i, (name.into(), value.clone()));
            }
        }
    }

    /// A reading's latest value.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .map(|i| &self.0[i].1)
    }

    /// Readings by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (&**k, v))
    }

    /// How many readings.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No reading yet.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for LastValues {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

impl<'de> Deserialize<'de> for LastValues {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LastValues;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of readings")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LastValues, A::Error> {
                let mut values = LastValues::default();
                while let Some((name, value)) = map.next_entry::<String, Value>()? {
                    values.set(&name, &value);
                }
                values.0.shrink_to_fit();
                Ok(values)
            }
        }
        d.deserialize_map(V)
    }
}
