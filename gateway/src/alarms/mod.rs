//! The alarm book: one alarm per (rule, subject), its lifecycle, and escalation. Pure: every
//! method takes `now`; the pipeline worker persists the [`Effects`] before anything is sent.

mod book;
mod directory;
mod text;

use linli_protocols::{Condition, Handling, Place, Severity, StaffNotification};
use serde::{Deserialize, Serialize};

pub use book::{ActError, Book};
pub use directory::{Directory, Person, Policy, Step, Target};
pub use text::{place_text, title, what};

use crate::config::Resolution;
use crate::rules::Subject;

/// Timeline entries kept per alarm; re-triggers past this are counted, not listed.
pub const TIMELINE_MAX: usize = 100;

/// An alarm record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// Id (decimal).
    pub id: String,
    /// Rule name.
    pub rule: String,
    /// What it is about.
    pub subject: Subject,
    /// The device, if the subject is one.
    pub device_id: Option<String>,
    /// The household, if any.
    pub household: Option<String>,
    /// Class (device kind, `care.household`, `unknown`).
    pub class: String,
    /// Where.
    pub place: Place,
    /// Severity (raised to the highest seen).
    pub severity: Severity,
    /// Handling.
    pub status: Handling,
    /// Condition.
    pub condition: Condition,
    /// Who ends it.
    pub resolution: Resolution,
    /// First raised, ms.
    pub raised_at: u64,
    /// Last triggered, ms.
    pub last_at: u64,
    /// Triggers so far.
    pub count: u32,
    /// What happened last.
    pub detail: String,
    /// Who acknowledged it (current acknowledgement).
    pub acked_by: Option<String>,
    /// When.
    pub acked_at: Option<u64>,
    /// Who resolved it.
    pub resolved_by: Option<String>,
    /// When.
    pub resolved_at: Option<u64>,
    /// The resolution (or acknowledgement) note.
    pub note: Option<String>,
    /// Escalation state; durable, so a restart keeps the timers.
    pub escalation: Escalation,
    /// Every transition and notification, oldest first.
    pub timeline: Vec<Entry>,
}

/// Where an alarm is in its escalation policy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Escalation {
    /// Round (0 at raise, +1 at each acknowledgement timeout).
    pub round: u32,
    /// When the round began, ms.
    pub round_at: u64,
    /// Next step to fire.
    pub step: u32,
    /// Repeats of the last step so far in this round.
    pub repeats: u32,
    /// When the next step, repeat or acknowledgement timeout is due, ms.
    pub next_at: Option<u64>,
}

/// One timeline entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// When, ms.
    pub at: u64,
    /// `raised`, `retriggered`, `cleared`, `notified`, `acknowledged`, `ack_timeout`, `resolved`.
    pub what: String,
    /// Who (staff id or `system`).
    pub by: String,
    /// Details.
    pub detail: String,
}

/// One audit record: who did what, when, how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Position (assigned by the store).
    #[serde(default)]
    pub id: u64,
    /// When, ms.
    pub at: u64,
    /// Staff id or `system`.
    pub actor: String,
    /// What.
    pub action: String,
    /// Which alarm.
    pub alarm_id: Option<String>,
    /// How (`api`, `mqtt`, `rule`, channel name) and details.
    pub detail: String,
}

/// A notification to deliver (durably queued before it is sent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Staff member.
    pub staff_id: String,
    /// What to tell them.
    pub body: StaffNotification,
}

/// What one input changed.
#[derive(Debug, Default, PartialEq)]
pub struct Effects {
    /// Alarms in their new state.
    pub alarms: Vec<Alarm>,
    /// Notifications to queue.
    pub notifications: Vec<Notification>,
    /// Audit records.
    pub audit: Vec<AuditEntry>,
    /// Escalation steps fired (0-based), for metrics.
    pub escalated: Vec<u32>,
}

impl Effects {
    /// Appends `other`.
    pub fn extend(&mut self, other: Effects) {
        self.alarms.extend(other.alarms);
        self.notifications.extend(other.notifications);
        self.audit.extend(other.audit);
        self.escalated.extend(other.escalated);
    }

    /// True when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.alarms.is_empty() && self.notifications.is_empty() && self.audit.is_empty()
    }
}

#[cfg(test)]
mod tests;
