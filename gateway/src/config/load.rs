//! Reading and validating the file: every problem at once, each with its key and a fix.

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use linli_protocols::{RESERVED_IDS, is_valid_id};
use serde::de::DeserializeOwned;

use super::{
    Config, DeviceConfig, EscalationConfig, GridConfig, HouseholdConfig, MqttConfig, RuleConfig,
    SiteConfig, SmsConfig, SmtpConfig, StaffConfig, StoreConfig,
};

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, such as `mqtt.keep_alive` or `device[2].id`.
    pub key: String,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub fix: String,
}

/// The configuration could not be used; `problems` lists everything found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct ConfigError {
    /// The file read.
    pub file: PathBuf,
    /// Every problem, in file order where known.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            write!(f, "\n  - {}: {}\n    fix: {}", p.key, p.message, p.fix)?;
        }
        Ok(())
    }
}

const SECTIONS: [&str; 13] = [
    "site",
    "mqtt",
    "store",
    "http",
    "device",
    "staff",
    "grid",
    "household",
    "escalation",
    "rule",
    "notify",
    "smtp",
    "sms",
];

impl Config {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Config::parse(&text, path),
            Err(e) => Err(ConfigError {
                file: path.to_path_buf(),
                problems: vec![Problem {
                    key: "(file)".into(),
                    message: format!("cannot read the file: {e}"),
                    fix: "check the path given to --config and its permissions".into(),
                }],
            }),
        }
    }

    /// Parses and validates `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &Path) -> Result<Config, ConfigError> {
        let mut problems = Vec::new();
        let config = parse_sections(text, &mut problems);
        match config {
            Some(config) if problems.is_empty() => Ok(config),
            _ => Err(ConfigError {
                file: file.to_path_buf(),
                problems,
            }),
        }
    }
}

fn parse_sections(text: &str, problems: &mut Vec<Problem>) -> Option<Config> {
    let mut table: toml::Table = match text.parse() {
        Ok(t) => t,
        Err(e) => {
            problems.push(Problem {
                key: "(syntax)".into(),
                message: e.to_string().trim().replace('\n', "\n      "),
                fix: "correct the TOML syntax at the line shown".into(),
            });
            return None;
        }
    };
    // Each section is checked as soon as it parses, so one bad section hides no other problem.
    let site = section(&mut table, "site", true, problems);
    if let Some(site) = &site {
        check_site(site, problems);
    }
    let mqtt = section(&mut table, "mqtt", true, problems);
    if let Some(mqtt) = &mqtt {
        check_mqtt(mqtt, problems);
    }
    let store = section(&mut table, "store", false, problems);
    if let Some(store) = &store {
        check_store(store, problems);
    }
    let http = section(&mut table, "http", false, problems);
    let devices = array::<DeviceConfig>(&mut table, "device", problems);
    check_devices(&devices, problems);
    let staff = array::<StaffConfig>(&mut table, "staff", problems);
    let grids = array::<GridConfig>(&mut table, "grid", problems);
    let households = array::<HouseholdConfig>(&mut table, "household", problems);
    let escalation = array::<EscalationConfig>(&mut table, "escalation", problems);
    let rules = array::<RuleConfig>(&mut table, "rule", problems);
    let notify = section(&mut table, "notify", false, problems);
    let smtp = table
        .remove("smtp")
        .and_then(|v| typed::<SmtpConfig>(v, "smtp", problems));
    let sms = table
        .remove("sms")
        .and_then(|v| typed::<SmsConfig>(v, "sms", problems));
    super::check::people(&staff, &grids, &households, problems);
    super::check::escalation(&escalation, &staff, problems);
    super::check::rules(&rules, problems);
    for key in table.keys() {
        problems.push(Problem {
            key: key.clone(),
            message: format!("unknown top-level key `{key}`"),
            fix: format!("remove it, or use one of: {}", SECTIONS.join(", ")),
        });
    }
    super::notify::check(
        &super::notify::Parts {
            staff: &staff,
            notify: notify.as_ref(),
            smtp: smtp.as_ref(),
            sms: sms.as_ref(),
            http: http.as_ref(),
        },
        problems,
    );
    Some(Config {
        site: site?,
        mqtt: mqtt?,
        store: store?,
        http: http?,
        devices,
        staff,
        grids,
        households,
        escalation,
        rules,
        notify: notify?,
        smtp,
        sms,
    })
}

fn section<T: DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
    required: bool,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    let value = match table.remove(key) {
        Some(v) => v,
        None if required => {
            problems.push(Problem {
                key: key.into(),
                message: format!("the [{key}] section is missing"),
                fix: match key {
                    "site" => "add [site] with id = \"your-site\"".into(),
                    _ => "add [mqtt] with url = \"mqtt://127.0.0.1:1883\" (or \"embedded\")".into(),
                },
            });
            return None;
        }
        None => toml::Value::Table(toml::Table::new()),
    };
    typed(value, key, problems)
}

fn array<T: DeserializeOwned>(
    table: &mut toml::Table,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Vec<T> {
    match table.remove(key) {
        None => Vec::new(),
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .filter_map(|(i, item)| typed(item, &format!("{key}[{i}]"), problems))
            .collect(),
        Some(_) => {
            problems.push(Problem {
                key: key.into(),
                message: format!("`{key}` must be an array of tables"),
                fix: format!("write each entry as a [[{key}]] table"),
            });
            Vec::new()
        }
    }
}

fn typed<T: DeserializeOwned>(
    mut value: toml::Value,
    key: &str,
    problems: &mut Vec<Problem>,
) -> Option<T> {
    // serde stops at the first error of a table; to report every bad key of a section, take the
    // offending key out and try again (bounded by the number of keys).
    let rounds = value.as_table().map_or(1, |t| t.len() + 1);
    for _ in 0..rounds {
        let e = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
            // With the bad keys taken out the rest still gets its semantic checks; the problems
            // already recorded keep the whole file from loading.
            Ok(v) => return Some(v),
            Err(e) => e,
        };
        let path = e.path().to_string();
        let message = e.into_inner().to_string();
        // toml appends "in `key`" on a second line; the key is named separately.
        let message = message
            .lines()
            .next()
            .unwrap_or_default()
            .trim()
            .to_string();
        let (full, fix) = explain(key, &path, &message);
        problems.push(Problem {
            key: full,
            message,
            fix,
        });
        let culprit = path.split('.').next().unwrap_or_default().to_string();
        let removed = value.as_table_mut().and_then(|t| t.remove(&culprit));
        if culprit.is_empty() || removed.is_none() {
            return None;
        }
    }
    None
}

/// Turns a serde message into the full key and a fix.
fn explain(section: &str, path: &str, message: &str) -> (String, String) {
    let join = |leaf: &str| match (path, leaf) {
        (".", "") => section.to_string(),
        (".", leaf) => format!("{section}.{leaf}"),
        (p, "") => format!("{section}.{p}"),
        (p, leaf) => format!("{section}.{p}.{leaf}"),
    };
    let quoted = message.split('`').nth(1).unwrap_or_default();
    if message.starts_with("unknown field") {
        let expected = message.split_once("expected ").map_or("", |(_, e)| e);
        (
            join(""),
            format!("remove `{quoted}` or correct its spelling; expected {expected}"),
        )
    } else if message.starts_with("missing field") {
        (join(quoted), format!("add `{quoted}`"))
    } else {
        (
            join(""),
            "give a value of the expected type, as the message says".into(),
        )
    }
}

/// Adds a problem.
pub(super) fn push(problems: &mut Vec<Problem>, key: &str, message: String, fix: &str) {
    problems.push(Problem {
        key: key.into(),
        message,
        fix: fix.into(),
    });
}

fn check_site(site: &SiteConfig, problems: &mut Vec<Problem>) {
    if !is_valid_id(&site.id) {
        push(
            problems,
            "site.id",
            format!("`{}` is not a valid id", site.id),
            "use 1 to 64 of A-Z a-z 0-9 _ . - (it becomes a topic level)",
        );
    }
    if let Err(e) = super::parse_utc_offset(&site.utc_offset) {
        push(problems, "site.utc_offset", e, "write it like \"+08:00\"");
    }
}

fn check_mqtt(mqtt: &MqttConfig, problems: &mut Vec<Problem>) {
    let mut problem = |key: &str, message: String, fix: &str| push(problems, key, message, fix);
    if let Err(e) = crate::ingest::BrokerAddr::parse(&mqtt.url) {
        problem("mqtt.url", e, "write mqtt://HOST:PORT, or \"embedded\"");
    }
    if let Some(id) = &mqtt.client_id {
        if id.is_empty() || id.len() > 128 {
            problem(
                "mqtt.client_id",
                format!("`{id}` must be 1 to 128 bytes"),
                "shorten it, or leave it out",
            );
        }
    }
    if mqtt.password.is_some() && mqtt.username.is_none() {
        problem(
            "mqtt.password",
            "a password without a username".into(),
            "add mqtt.username",
        );
    }
    if !(64..=16 * 1024 * 1024).contains(&mqtt.max_payload) {
        problem(
            "mqtt.max_payload",
            format!("{} is outside 64..=16777216 bytes", mqtt.max_payload),
            "use a size such as 65536",
        );
    }
    if mqtt.keep_alive.0.as_secs() < 5 {
        problem(
            "mqtt.keep_alive",
            format!("{} is under 5s", mqtt.keep_alive),
            "use \"30s\" or more",
        );
    }
}

fn check_store(store: &StoreConfig, problems: &mut Vec<Problem>) {
    let mut problem = |key: &str, message: String, fix: &str| push(problems, key, message, fix);
    if store.cache_mb == 0 {
        problem("store.cache_mb", "must be at least 1".into(), "use 16");
    }
    if store.rejected_max == 0 {
        problem(
            "store.rejected_max",
            "must be at least 1".into(),
            "use 10000",
        );
    }
    for (key, d) in [
        ("store.telemetry_retention", store.telemetry_retention),
        ("store.event_retention", store.event_retention),
    ] {
        if d.0.as_secs() < 3_600 {
            problem(
                key,
                format!("{d} is under an hour"),
                "keep data at least \"1h\"; the default is 30d / 180d",
            );
        }
    }
}

fn check_devices(devices: &[DeviceConfig], problems: &mut Vec<Problem>) {
    let mut problem = |key: &str, message: String, fix: &str| push(problems, key, message, fix);
    let mut seen = HashSet::new();
    for (i, d) in devices.iter().enumerate() {
        let key = format!("device[{i}].id");
        if !is_valid_id(&d.id) || RESERVED_IDS.contains(&d.id.as_str()) {
            problem(
                &key,
                format!("`{}` is not a usable device id", d.id),
                "use 1 to 64 of A-Z a-z 0-9 _ . -, not alarms/staff/hub",
            );
        } else if !seen.insert(d.id.as_str()) {
            problem(
                &key,
                format!("`{}` is declared twice", d.id),
                "keep one [[device]] per id",
            );
        }
        if !linli_protocols::is_valid_kind(&d.kind) {
            problem(
                &format!("device[{i}].kind"),
                format!("`{}` is not a dotted kind", d.kind),
                "write it like care.sos_button",
            );
        }
        if d.heartbeat.is_some_and(|h| h.0.as_millis() < 1_000) {
            problem(
                &format!("device[{i}].heartbeat"),
                "under 1s".into(),
                "use \"1s\" or more",
            );
        }
    }
}

#[cfg(test)]
mod tests;
