//! The one TOML configuration file. Only `[site]` and `[mqtt]` are required; every other field has
//! a documented default. Loading reports every problem at once, each naming the key and the fix.

mod area;
mod check;
mod duration;
mod load;
mod notify;
mod people;
mod rules;

use std::net::SocketAddr;
use std::path::PathBuf;

use linli_protocols::Location;
use serde::{Deserialize, Serialize};

pub use area::{Area, QuietHours, parse_utc_offset};
pub use duration::Dur;
pub use load::{ConfigError, Problem};
pub use notify::{
    CHANNEL_KINDS, Channel, ChannelConfig, NotifyConfig, SmsConfig, SmsFormat, SmtpConfig, SmtpTls,
    valid_url,
};
pub use people::{
    EscalationConfig, GridConfig, HouseholdConfig, Role, StaffConfig, StepConfig,
    default_ack_timeout, default_repeat,
};
pub use rules::{Resolution, RuleConfig, RuleKind};

/// The whole configuration.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// `[site]`: which community this hub serves.
    pub site: SiteConfig,
    /// `[mqtt]`: the broker.
    pub mqtt: MqttConfig,
    /// `[store]`: the embedded database.
    pub store: StoreConfig,
    /// `[http]`: the API, console and metrics listener.
    pub http: HttpConfig,
    /// `[[device]]`: devices known before they announce themselves.
    pub devices: Vec<DeviceConfig>,
    /// `[[staff]]`: people who receive alarms and use the API. With none, the API is open.
    pub staff: Vec<StaffConfig>,
    /// `[[grid]]`: grids of buildings.
    pub grids: Vec<GridConfig>,
    /// `[[household]]`: homes, for wellness rules and routing.
    pub households: Vec<HouseholdConfig>,
    /// `[[escalation]]`: escalation policies, first match wins.
    pub escalation: Vec<EscalationConfig>,
    /// `[[rule]]`: added or overriding rules.
    pub rules: Vec<RuleConfig>,
    /// `[notify]`: delivery limits.
    pub notify: NotifyConfig,
    /// `[smtp]`: the mail server, for `email` channels. Default: none.
    pub smtp: Option<SmtpConfig>,
    /// `[sms]`: the SMS gateway, for `sms` channels. Default: none.
    pub sms: Option<SmsConfig>,
}

/// `[site]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteConfig {
    /// Site id, the second topic level; `[A-Za-z0-9_.-]{1,64}`. Required.
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Local time offset, for quiet hours and messages. Default `"+08:00"`.
    #[serde(default = "default_utc_offset")]
    pub utc_offset: String,
}

fn default_utc_offset() -> String {
    "+08:00".into()
}

/// `[mqtt]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host:port` (port defaults to 1883), or `embedded` for the in-process demo broker.
    /// Required.
    pub url: String,
    /// Client id. Default `linli-{site.id}`: stable, so the persistent session survives restarts.
    #[serde(default)]
    pub client_id: Option<String>,
    /// Username, if the broker wants one. Default: none.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, with `username`. Default: none.
    #[serde(default)]
    pub password: Option<String>,
    /// MQTT keep-alive. Default `"30s"`.
    #[serde(default = "default_keep_alive")]
    pub keep_alive: Dur,
    /// Largest payload accepted from a device, in bytes; larger ones are rejected as `oversize`.
    /// Default 65536.
    #[serde(default = "default_max_payload")]
    pub max_payload: usize,
}

/// `[store]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// Directory of the sled database. Default `"./linli-data"`.
    #[serde(default = "default_store_path")]
    pub path: PathBuf,
    /// sled page cache in MiB. Default 16 (sled's own 1 GiB default inflates RSS tenfold).
    #[serde(default = "default_cache_mb")]
    pub cache_mb: u64,
    /// How long telemetry samples are kept. Default `"30d"`. Deleted a whole UTC day at a time,
    /// once the day is past it: a sample lives up to a day longer.
    #[serde(default = "default_telemetry_retention")]
    pub telemetry_retention: Dur,
    /// How long device events are kept. Default `"180d"` (GB 50396 asks at least 180 days for
    /// access events). Deleted a whole UTC day at a time, like telemetry.
    #[serde(default = "default_event_retention")]
    pub event_retention: Dur,
    /// How many rejected payloads are kept for `GET /api/v1/rejected`. Default 10000.
    #[serde(default = "default_rejected_max")]
    pub rejected_max: usize,
}

/// `[http]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Listen address. Default `"127.0.0.1:8080"`.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The hub's address as staff phones reach it, for acknowledgement links, like
    /// `"https://linli.example.cn"`. Default `http://{listen}`.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Key that signs acknowledgement links (16 characters or more). Default: one generated at
    /// first start and kept in the store.
    #[serde(default, skip_serializing)]
    pub link_secret: Option<String>,
}

/// `[[device]]`: a device declared by the integrator.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Device id as in its topics. Required.
    pub id: String,
    /// Dotted kind such as `care.sos_button`. Required.
    pub kind: String,
    /// Where it is installed. Default: unplaced.
    #[serde(default)]
    pub location: Option<Location>,
    /// Heartbeat period; 3 missed heartbeats mark it offline. Default: the kind's.
    #[serde(default)]
    pub heartbeat: Option<Dur>,
}

impl Config {
    /// The base of acknowledgement links, without a trailing slash.
    pub fn public_url(&self) -> String {
        self.http.public_url.as_ref().map_or_else(
            || format!("http://{}", self.http.listen),
            |u| u.trim_end_matches('/').to_string(),
        )
    }

    /// The MQTT client id in use.
    pub fn client_id(&self) -> String {
        self.mqtt
            .client_id
            .clone()
            .unwrap_or_else(|| format!("linli-{}", self.site.id))
    }
}

fn default_keep_alive() -> Dur {
    Dur::secs(30)
}
fn default_max_payload() -> usize {
    64 * 1024
}
fn default_store_path() -> PathBuf {
    PathBuf::from("./linli-data")
}
fn default_cache_mb() -> u64 {
    16
}
fn default_telemetry_retention() -> Dur {
    Dur::secs(30 * 86_400)
}
fn default_event_retention() -> Dur {
    Dur::secs(180 * 86_400)
}
fn default_rejected_max() -> usize {
    10_000
}
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            path: default_store_path(),
            cache_mb: default_cache_mb(),
            telemetry_retention: default_telemetry_retention(),
            event_retention: default_event_retention(),
            rejected_max: default_rejected_max(),
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            public_url: None,
            link_secret: None,
        }
    }
}
