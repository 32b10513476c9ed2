//! Loading the configuration: parse errors naming the key and line, and the semantic checks
//! that list every problem at once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use linli_protocols::{RESERVED_IDS, is_valid_id, is_valid_kind};

use super::Config;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the schema.
    #[error("config {path}: {key}: {message}{line}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The dotted key at fault (`.` for the top level).
        key: String,
        /// What is wrong.
        message: String,
        /// ` (line N)` where known.
        line: String,
    },
    /// The values are inconsistent; every problem is listed.
    #[error("config {path}: {}", problems.join("; "))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// `key: problem`, one per problem.
        problems: Vec<String>,
    },
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.into(),
            source,
        })?;
        let config = Self::parse(&text).map_err(|e| e.at(path))?;
        let problems = config.problems();
        if problems.is_empty() {
            Ok(config)
        } else {
            Err(ConfigError::Invalid {
                path: path.into(),
                problems,
            })
        }
    }

    /// Parses TOML text (no semantic checks).
    pub fn parse(text: &str) -> Result<Config, ParseError> {
        let de = toml::Deserializer::parse(text).map_err(|e| ParseError::new(text, ".", &e))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            ParseError::new(text, &path, e.inner())
        })
    }

    /// Every semantic problem, as `key: problem`.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Vec::new();
        if !is_valid_id(&self.site) {
            p.push("site: must match [A-Za-z0-9_.-]{1,64}".to_string());
        }
        if !is_valid_id(&self.device_id) {
            p.push("device_id: must match [A-Za-z0-9_.-]{1,64}".to_string());
        } else if RESERVED_IDS.contains(&self.device_id.as_str()) {
            p.push(format!(
                "device_id: `{}` is reserved for the hub",
                self.device_id
            ));
        }
        if !is_valid_kind(&self.kind) {
            p.push("kind: must be dotted lowercase like `care.sos_button`".to_string());
        }
        if let Err(e) = broker_address(&self.broker) {
            p.push(format!("broker: {e}"));
        }
        for (key, d) in [("heartbeat", self.heartbeat), ("poll", self.poll)] {
            if d.0.is_zero() {
                p.push(format!("{key}: must be longer than zero"));
            }
        }
        if self.heartbeat.0.as_millis() > u128::from(u32::MAX) {
            p.push("heartbeat: must be under 49 days".to_string());
        }
        let w = &self.water_meter;
        if !(w.litres_per_pulse.is_finite() && w.litres_per_pulse >= 0.001) {
            p.push("water_meter.litres_per_pulse: must be at least 0.001".to_string());
        }
        if !(w.start_m3.is_finite() && w.start_m3 >= 0.0) {
            p.push("water_meter.start_m3: must be zero or more".to_string());
        }
        if self.pins.smoke_alarm.is_some() != self.pins.smoke_test.is_some() {
            p.push("pins: smoke_alarm and smoke_test go together".to_string());
        }
        let mut seen: BTreeMap<(&Path, u32), &str> = BTreeMap::new();
        for (name, pin) in self.pins.named() {
            if let Some(other) = seen.insert((&pin.chip, pin.line), name) {
                p.push(format!(
                    "pins.{name}: line {} of {} is already pins.{other}",
                    pin.line,
                    pin.chip.display()
                ));
            }
        }
        if let Some(b) = &self.battery {
            if !(b.mv_per_unit.is_finite() && b.mv_per_unit > 0.0) {
                p.push("battery.mv_per_unit: must be above zero".to_string());
            }
        }
        p
    }

    /// The MQTT client id.
    pub fn client_id(&self) -> String {
        self.client_id
            .clone()
            .unwrap_or_else(|| format!("linli-node-{}", self.device_id))
    }
}

/// Host and port of `mqtt://host[:port]`.
pub fn broker_address(url: &str) -> Result<(String, u16), String> {
    let Some(rest) = url.strip_prefix("mqtt://") else {
        return Err(format!("`{url}` is not mqtt://host[:port]"));
    };
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h,
            p.parse::<u16>()
                .map_err(|_| format!("`{url}` has a bad port `{p}`"))?,
        ),
        None => (rest, 1883),
    };
    if host.is_empty() || host.contains('/') {
        return Err(format!("`{url}` is not mqtt://host[:port]"));
    }
    Ok((host.to_string(), port))
}

/// A parse failure, before the file name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The dotted key at fault.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// The 1-based line, where known.
    pub line: Option<usize>,
}

impl ParseError {
    fn new(text: &str, path: &str, e: &toml::de::Error) -> Self {
        let message = e.message().trim().to_string();
        // serde_path_to_error's path already ends with an unknown field's own name.
        let key = path.to_string();
        let line = e
            .span()
            .map(|s| text.bytes().take(s.start).filter(|b| *b == b'\n').count() + 1);
        ParseError { key, message, line }
    }

    fn at(self, path: &Path) -> ConfigError {
        ConfigError::Parse {
            path: path.into(),
            key: self.key,
            message: self.message,
            line: self
                .line
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default(),
        }
    }
}
