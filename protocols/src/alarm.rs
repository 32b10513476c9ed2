//! Alarm vocabulary shared by the hub, staff apps and dashboards.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::{Deserialize, Serialize};

/// How bad it is, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Life or property at risk now: SOS, fall, smoke.
    Critical,
    /// Needs someone soon: forced door, leak, a care device offline.
    Major,
    /// Needs attention: door held open, a device offline.
    Minor,
    /// Worth knowing: low battery.
    Warning,
    /// For the record.
    Info,
}

impl Severity {
    /// Every severity, most severe first.
    pub const ALL: [Severity; 5] = [
        Severity::Critical,
        Severity::Major,
        Severity::Minor,
        Severity::Warning,
        Severity::Info,
    ];

    /// Lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::Minor => "minor",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who has the alarm in hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Handling {
    /// Nobody yet: escalation runs.
    Open,
    /// Somebody took it; it re-escalates after the acknowledgement timeout.
    Acknowledged,
    /// Done.
    Resolved,
}

impl Handling {
    /// Lowercase name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Handling::Open => "open",
            Handling::Acknowledged => "acknowledged",
            Handling::Resolved => "resolved",
        }
    }
}

/// Whether the cause is still there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The cause persists (or was a one-off event).
    Active,
    /// The cause went away (smoke cleared, device back online, SOS cancelled).
    Cleared,
}

/// Where an alarm is, for people.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    /// Building.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
    /// Unit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Floor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor: Option<i32>,
    /// Room or flat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
}

/// Published to `linli/{site}/staff/{staff_id}/notify`: what a staff app shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffNotification {
    /// Idempotency key: the same notification delivered twice has the same key.
    pub key: String,
    /// The alarm.
    pub alarm_id: String,
    /// The rule that raised it (`sos`, `device_offline`, ...).
    pub rule: String,
    /// Alarm class (the device kind, e.g. `care.sos_button`).
    pub class: String,
    /// Severity.
    pub severity: Severity,
    /// One line for people.
    pub title: String,
    /// Where.
    pub place: Place,
    /// Device, when the subject is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Household, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub household: Option<String>,
    /// When the alarm was raised, ms.
    pub raised_at: u64,
    /// Escalation step that sent this (0-based).
    pub step: u32,
    /// Others told at this step.
    pub also_told: Vec<String>,
}

/// Sent by a staff app on `linli/{site}/staff/{staff_id}/ack`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaffAck {
    /// The alarm to acknowledge.
    pub alarm_id: String,
    /// Optional note.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}
