//! The node's TOML configuration: identity, broker, heartbeat and the map of pins and buses.
//!
//! Unknown keys are errors naming the key; semantic checks report every problem at once.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use linli_devices::Polarity;
use linli_devices::battery::Curve;
use linli_protocols::Location;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The hub's site id: the `{site}` topic level. Required.
    pub site: String,
    /// This device's id: the `{device_id}` topic level. Required.
    pub device_id: String,
    /// Dotted device kind, e.g. `care.sos_button`. Required.
    pub kind: String,
    /// Model announced to the hub. Default `"linli-node"`.
    #[serde(default = "default_model")]
    pub model: String,
    /// MQTT broker, `mqtt://host[:port]`. Default `"mqtt://127.0.0.1:1883"`.
    #[serde(default = "default_broker")]
    pub broker: String,
    /// MQTT client id. Default `"linli-node-{device_id}"`.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Heartbeat period. Default `"60s"`; the hub declares the device offline after three.
    #[serde(default = "default_heartbeat")]
    pub heartbeat: Dur,
    /// How often the inputs are sampled. Default `"10ms"`.
    #[serde(default = "default_poll")]
    pub poll: Dur,
    /// Where the next sequence number and the water register survive restarts. Default: none;
    /// the sequence then starts from the wall clock in ms, which the hub sees as one gap.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
    /// Where the device is installed. Default: not announced.
    #[serde(default)]
    pub location: Option<LocationConfig>,
    /// Input and output pins by role. Default: none.
    #[serde(default)]
    pub pins: Pins,
    /// The water meter's pulse value and register. Default: 1 L per pulse, from 0 m³.
    #[serde(default)]
    pub water_meter: WaterMeterConfig,
    /// The PIR hold-off. Default `"30s"`.
    #[serde(default)]
    pub pir: PirConfig,
    /// The I²C bus of an SHTC3 temperature / humidity sensor. Default: none.
    #[serde(default)]
    pub i2c: Option<I2cConfig>,
    /// A battery voltage read from a sysfs file (IIO ADC). Default: none.
    #[serde(default)]
    pub battery: Option<BatteryConfig>,
}

/// The pin map: each role is optional.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pins {
    /// SOS button; active = pressed.
    pub sos_button: Option<PinConfig>,
    /// Door contact; active = open.
    pub door: Option<PinConfig>,
    /// PIR output; active = motion.
    pub pir: Option<PinConfig>,
    /// Water meter pulse output; active = pulse.
    pub water_meter: Option<PinConfig>,
    /// Smoke detector alarm output; active = alarm. Needs `smoke_test`.
    pub smoke_alarm: Option<PinConfig>,
    /// Smoke detector test button; active = pressed. Needs `smoke_alarm`.
    pub smoke_test: Option<PinConfig>,
    /// Indicator LED (output); blinks after an SOS.
    pub led: Option<PinConfig>,
}

impl Pins {
    /// The configured pins with their config key names.
    pub fn named(&self) -> Vec<(&'static str, &PinConfig)> {
        [
            ("sos_button", &self.sos_button),
            ("door", &self.door),
            ("pir", &self.pir),
            ("water_meter", &self.water_meter),
            ("smoke_alarm", &self.smoke_alarm),
            ("smoke_test", &self.smoke_test),
            ("led", &self.led),
        ]
        .into_iter()
        .filter_map(|(name, pin)| pin.as_ref().map(|p| (name, p)))
        .collect()
    }
}

/// One GPIO line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PinConfig {
    /// The GPIO character device, e.g. `/dev/gpiochip0`. Required.
    pub chip: PathBuf,
    /// The line offset on that chip. Required.
    pub line: u32,
    /// The active state reads low (switch to ground with a pull-up). Default `false`.
    #[serde(default)]
    pub active_low: bool,
}

impl PinConfig {
    /// The polarity for the drivers.
    pub const fn polarity(&self) -> Polarity {
        Polarity::from_active_low(self.active_low)
    }
}

/// `[water_meter]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WaterMeterConfig {
    /// Litres per pulse. Default `1.0`.
    #[serde(default = "one")]
    pub litres_per_pulse: f64,
    /// The meter's register when first installed (the state file wins after that). Default `0.0`.
    #[serde(default)]
    pub start_m3: f64,
}

impl Default for WaterMeterConfig {
    fn default() -> Self {
        WaterMeterConfig {
            litres_per_pulse: 1.0,
            start_m3: 0.0,
        }
    }
}

/// `[pir]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PirConfig {
    /// Minimum time between two `motion` events. Default `"30s"`.
    #[serde(default = "default_holdoff")]
    pub holdoff: Dur,
}

impl Default for PirConfig {
    fn default() -> Self {
        PirConfig {
            holdoff: default_holdoff(),
        }
    }
}

/// `[i2c]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct I2cConfig {
    /// The bus device, e.g. `/dev/i2c-1`. Required.
    pub bus: PathBuf,
    /// How often to read the SHTC3. Default `"60s"`.
    #[serde(default = "default_heartbeat")]
    pub interval: Dur,
}

/// `[battery]`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatteryConfig {
    /// A file holding one integer ADC reading, e.g. an IIO `in_voltage0_raw`. Required.
    pub path: PathBuf,
    /// Millivolts at the battery per ADC unit (scale times divider ratio). Default `1.0`.
    #[serde(default = "one")]
    pub mv_per_unit: f64,
    /// Discharge curve: `li_ion_1s`, `alkaline_2x` or `lithium_3v`. Default `li_ion_1s`.
    #[serde(default)]
    pub curve: CurveName,
    /// How often to read it. Default `"60s"`.
    #[serde(default = "default_heartbeat")]
    pub interval: Dur,
}

/// A named discharge curve.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CurveName {
    /// [`Curve::LI_ION_1S`].
    #[default]
    LiIon1s,
    /// [`Curve::ALKALINE_2X`].
    Alkaline2x,
    /// [`Curve::LITHIUM_3V`].
    Lithium3v,
}

impl CurveName {
    /// The curve.
    pub const fn curve(self) -> Curve {
        match self {
            CurveName::LiIon1s => Curve::LI_ION_1S,
            CurveName::Alkaline2x => Curve::ALKALINE_2X,
            CurveName::Lithium3v => Curve::LITHIUM_3V,
        }
    }
}

/// `[location]`; building, unit and room may be written as numbers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocationConfig {
    /// Building.
    pub building: Option<Label>,
    /// Unit (entrance).
    pub unit: Option<Label>,
    /// Floor; negative below ground.
    pub floor: Option<i32>,
    /// Room or flat.
    pub room: Option<Label>,
}

/// A name that may be written as a string or an integer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum Label {
    /// `"3A"`.
    Text(String),
    /// `3`.
    Number(i64),
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Text(t) => f.write_str(t),
            Label::Number(n) => write!(f, "{n}"),
        }
    }
}

impl From<&LocationConfig> for Location {
    fn from(l: &LocationConfig) -> Self {
        Location {
            building: l.building.as_ref().map(Label::to_string),
            unit: l.unit.as_ref().map(Label::to_string),
            floor: l.floor,
            room: l.room.as_ref().map(Label::to_string),
        }
    }
}

/// A duration written as `"500ms"`, `"60s"`, `"2m"` or `"12h"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dur(pub Duration);

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map(Dur).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "invalid duration `{s}`: expected a number and ms, s, m or h, like \"500ms\" or \"60s\""
            ))
        })
    }
}

/// Parses `"500ms"`, `"60s"`, `"2m"`, `"12h"`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => Some(n),
        "s" => n.checked_mul(1_000),
        "m" => n.checked_mul(60_000),
        "h" => n.checked_mul(3_600_000),
        _ => None,
    }?;
    Some(Duration::from_millis(ms))
}

fn default_model() -> String {
    "linli-node".into()
}
fn default_broker() -> String {
    "mqtt://127.0.0.1:1883".into()
}
fn default_heartbeat() -> Dur {
    Dur(Duration::from_secs(60))
}
fn default_poll() -> Dur {
    Dur(Duration::from_millis(10))
}
fn default_holdoff() -> Dur {
    Dur(Duration::from_secs(30))
}
fn one() -> f64 {
    1.0
}

mod load;

pub use load::{ConfigError, ParseError, broker_address};

#[cfg(test)]
mod tests;
