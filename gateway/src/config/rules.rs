//! `[[rule]]`: rules added to, or overriding, the built-in ones.

use linli_protocols::Severity;
use serde::{Deserialize, Serialize};

use super::Dur;

/// What a rule watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleKind {
    /// An event type raises it (`event`); another (`clear_event`) clears it.
    Event,
    /// A value beyond `above` / `below` for `for`; clears past `clear_below` / `clear_above`.
    Threshold,
    /// `count` events within `within` at one device.
    Count,
    /// `event` (door open) not followed by `clear_event` (door close) within `for`.
    HeldOpen,
}

/// How an alarm of a rule ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// A person resolves it, with a note.
    Person,
    /// It resolves itself when its condition clears.
    Auto,
}

/// `[[rule]]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Rule name; the same name as a built-in rule replaces it. Required.
    pub name: String,
    /// `false` switches the rule (or a built-in of that name) off. Default true.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Rule kind. Required unless `enabled = false`.
    #[serde(default)]
    pub kind: Option<RuleKind>,
    /// Device kinds it applies to (`*` globs such as `facility.*`). Default `"*"`.
    #[serde(default = "any")]
    pub devices: String,
    /// Severity. Default `major`.
    #[serde(default = "major")]
    pub severity: Severity,
    /// Who ends it. Default: `person` for event and count rules, `auto` otherwise.
    #[serde(default)]
    pub resolve: Option<Resolution>,
    /// Event type (event, count, held_open).
    #[serde(default)]
    pub event: Option<String>,
    /// Event type that clears (event, held_open).
    #[serde(default)]
    pub clear_event: Option<String>,
    /// Telemetry value name (threshold).
    #[serde(default)]
    pub value: Option<String>,
    /// Raise above this (threshold).
    #[serde(default)]
    pub above: Option<f64>,
    /// Raise below this (threshold).
    #[serde(default)]
    pub below: Option<f64>,
    /// Clear below this (threshold with `above`). Default: `above`.
    #[serde(default)]
    pub clear_below: Option<f64>,
    /// Clear above this (threshold with `below`). Default: `below`.
    #[serde(default)]
    pub clear_above: Option<f64>,
    /// How long the condition must hold (threshold, held_open). Default `"0s"`.
    #[serde(default, rename = "for")]
    pub hold: Option<Dur>,
    /// Events needed (count). Default 5.
    #[serde(default)]
    pub count: Option<u32>,
    /// Window (count). Default `"1m"`.
    #[serde(default)]
    pub within: Option<Dur>,
}

fn yes() -> bool {
    true
}
fn any() -> String {
    "*".into()
}
fn major() -> Severity {
    Severity::Major
}
