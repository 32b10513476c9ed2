//! Staff, roles, areas, grids and households: who is told, and about what.

use linli_protocols::{Location, Severity};
use serde::{Deserialize, Serialize};

use super::Dur;

/// A built-in role; each sees a fixed set of alarm classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Everything, and configuration.
    Admin,
    /// Residents' committee: all classes.
    Committee,
    /// Grid worker (网格员): all classes.
    GridWorker,
    /// Property duty officer: facilities and gates.
    PropertyDuty,
    /// Security guard: gates.
    Security,
    /// Caretaker of seniors.
    Caretaker,
    /// Family member.
    Family,
    /// Volunteer.
    Volunteer,
}

impl Role {
    /// Class patterns this role sees (`*` is everything).
    pub fn classes(self) -> &'static [&'static str] {
        match self {
            Role::Admin | Role::Committee | Role::GridWorker => &["*"],
            Role::PropertyDuty => &["facility.*", "access.*"],
            Role::Security => &["access.*"],
            Role::Caretaker | Role::Family | Role::Volunteer => &["care.*"],
        }
    }

    /// True when this role may see residents' names (PIPL minimisation).
    pub fn sees_residents(self) -> bool {
        matches!(
            self,
            Role::Admin | Role::Committee | Role::GridWorker | Role::Caretaker | Role::Family
        )
    }

    /// snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Committee => "committee",
            Role::GridWorker => "grid_worker",
            Role::PropertyDuty => "property_duty",
            Role::Security => "security",
            Role::Caretaker => "caretaker",
            Role::Family => "family",
            Role::Volunteer => "volunteer",
        }
    }
}

/// `[[staff]]`: a person who receives alarms and uses the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffConfig {
    /// Staff id (`[A-Za-z0-9_.-]{1,64}`), used in topics. Required.
    pub id: String,
    /// Display name. Default: the id.
    #[serde(default)]
    pub name: Option<String>,
    /// Roles. Required, at least one.
    pub roles: Vec<Role>,
    /// Areas: `"*"`, `"building:3"`, `"building:3/unit:2"`, `"grid:7"`. Default `["*"]`.
    #[serde(default = "everywhere")]
    pub areas: Vec<String>,
    /// Bearer token for the API. Required, at least 16 characters.
    pub token: String,
    /// Language of messages: `zh-CN` or `en`. Default `zh-CN`.
    #[serde(default = "default_lang")]
    pub lang: String,
    /// Channels, in order of preference: the next one is used when one fails for
    /// `[notify] max_age`. Default `[{ mqtt = true }]`.
    #[serde(default = "default_notify")]
    pub notify: Vec<super::ChannelConfig>,
}

/// `[[grid]]`: a grid (网格) of buildings, for `grid:N` areas.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GridConfig {
    /// Grid id. Required.
    pub id: String,
    /// Buildings in the grid. Required.
    pub buildings: Vec<String>,
}

/// `[[household]]`: a home whose devices together show that its residents are well.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HouseholdConfig {
    /// Household id. Required.
    pub id: String,
    /// Where it is. Default: unplaced (only `*` staff see its alarms).
    #[serde(default)]
    pub location: Option<Location>,
    /// A senior living alone: inactivity and low water use raise wellness checks. Default false.
    #[serde(default)]
    pub living_alone: bool,
    /// Residents' names, shown only to roles that need them. Default none.
    #[serde(default)]
    pub residents: Vec<String>,
    /// Devices of the household (PIR, door contact, water meter, SOS button). Required.
    pub devices: Vec<String>,
    /// No activity for this long raises `inactivity`. Default `"12h"`.
    #[serde(default = "default_inactivity")]
    pub inactivity: Dur,
    /// Water use below `min_water_m3` over this window raises `low_water_use`. Default `"12h"`.
    #[serde(default = "default_inactivity")]
    pub water_window: Dur,
    /// Default 0.01 m³ (Shanghai and Shenzhen practice).
    #[serde(default = "default_min_water")]
    pub min_water_m3: f64,
    /// Local hours when inactivity is expected (sleep), e.g. `"22:00-07:00"`. Default none.
    #[serde(default)]
    pub quiet_hours: Option<String>,
}

/// `[[escalation]]`: who is told, and when, until someone acknowledges.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalationConfig {
    /// Alarm classes (device kinds, `*` globs) this policy covers. Required.
    pub classes: Vec<String>,
    /// Only these severities. Default: all.
    #[serde(default)]
    pub severities: Option<Vec<Severity>>,
    /// Ordered steps. Required, at least one.
    pub steps: Vec<StepConfig>,
    /// After the last step, repeat it this often until acknowledged. Default `"5m"`.
    #[serde(default = "default_repeat")]
    pub repeat: Dur,
    /// An acknowledged alarm not resolved within this re-escalates. Default `"30m"`.
    #[serde(default = "default_ack_timeout")]
    pub ack_timeout: Dur,
}

/// One escalation step.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepConfig {
    /// Delay after the alarm is raised. Required.
    pub after: Dur,
    /// Targets: `role:caretaker` (resolved by area and class) or `staff:wang`. Required.
    pub notify: Vec<String>,
}

fn everywhere() -> Vec<String> {
    vec!["*".into()]
}
fn default_notify() -> Vec<super::ChannelConfig> {
    vec![super::ChannelConfig::mqtt()]
}
fn default_lang() -> String {
    "zh-CN".into()
}
fn default_inactivity() -> Dur {
    Dur::secs(12 * 3_600)
}
fn default_min_water() -> f64 {
    0.01
}
/// Default repeat of the last escalation step.
pub fn default_repeat() -> Dur {
    Dur::secs(300)
}
/// Default acknowledgement timeout.
pub fn default_ack_timeout() -> Dur {
    Dur::secs(1_800)
}
