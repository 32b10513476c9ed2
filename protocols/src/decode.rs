//! Strict decoding: bytes on a channel → [`Message`] or [`Reject`].

use alloc::format;
use alloc::string::{String, ToString};
use core::fmt;

use crate::message::{Announce, Event, Message, Status, StatusState, Telemetry, Values};
use crate::topic::{Channel, TopicError, is_valid_id};

/// Bounds on what a device may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted payload in bytes (default 64 KiB).
    pub max_payload: usize,
    /// Most named values in one telemetry or event message (default 64).
    pub max_values: usize,
    /// Longest string value in bytes (default 256).
    pub max_text_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_payload: 64 * 1024,
            max_values: 64,
            max_text_len: 256,
        }
    }
}

/// Why a message was refused. The spelling of [`RejectReason::as_str`] is a metric label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// Not JSON (or not UTF-8, or empty, or nested too deep).
    Malformed,
    /// JSON of the wrong shape: a string where a number belongs, an array for an object.
    WrongType,
    /// A required field is absent.
    MissingField,
    /// A value is out of its range: too long, too many, not finite, bad name.
    BadValue,
    /// The topic's device id is not a valid id.
    BadId,
    /// The payload is larger than the limit.
    Oversize,
    /// The topic's channel is not one of the contract's.
    UnknownChannel,
    /// The payload's `device_id` differs from the topic's.
    IdentityMismatch,
    /// The topic is not `linli/{site}/{device_id}/{channel}`.
    BadTopic,
}

impl RejectReason {
    /// Every reason, for metric initialisation.
    pub const ALL: [RejectReason; 9] = [
        RejectReason::Malformed,
        RejectReason::WrongType,
        RejectReason::MissingField,
        RejectReason::BadValue,
        RejectReason::BadId,
        RejectReason::Oversize,
        RejectReason::UnknownChannel,
        RejectReason::IdentityMismatch,
        RejectReason::BadTopic,
    ];

    /// Stable snake_case name, used as the `reason` label and in the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed_json",
            RejectReason::WrongType => "wrong_type",
            RejectReason::MissingField => "missing_field",
            RejectReason::BadValue => "bad_value",
            RejectReason::BadId => "bad_id",
            RejectReason::Oversize => "oversize",
            RejectReason::UnknownChannel => "unknown_channel",
            RejectReason::IdentityMismatch => "identity_mismatch",
            RejectReason::BadTopic => "bad_topic",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused message: the reason and a human-readable detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Reject {
    /// Classified reason.
    pub reason: RejectReason,
    /// What exactly was wrong, for the integrator.
    pub detail: String,
}

impl Reject {
    fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Reject {
            reason,
            detail: detail.into(),
        }
    }
}

impl From<&TopicError> for Reject {
    fn from(e: &TopicError) -> Self {
        let reason = match e {
            TopicError::BadId(_) => RejectReason::BadId,
            TopicError::UnknownChannel(_) => RejectReason::UnknownChannel,
            TopicError::Shape | TopicError::OtherSite(_) | TopicError::Reserved(_) => {
                RejectReason::BadTopic
            }
        };
        Reject::new(reason, e.to_string())
    }
}

/// Decodes `payload` received on `channel` of device `device_id`.
pub fn decode(
    channel: Channel,
    device_id: &str,
    payload: &[u8],
    limits: &Limits,
) -> Result<Message, Reject> {
    if payload.len() > limits.max_payload {
        return Err(Reject::new(
            RejectReason::Oversize,
            format!("{} bytes, limit {}", payload.len(), limits.max_payload),
        ));
    }
    let message = match channel {
        Channel::Telemetry => Message::Telemetry(json::<Telemetry>(payload)?),
        Channel::Event => Message::Event(json::<Event>(payload)?),
        Channel::Status => Message::Status(status(payload)?),
        Channel::Announce => Message::Announce(json::<Announce>(payload)?),
        Channel::Cmd => {
            return Err(Reject::new(
                RejectReason::UnknownChannel,
                "`cmd` is hub → device only",
            ));
        }
    };
    validate(&message, device_id, limits)?;
    Ok(message)
}

fn json<'a, T: serde::Deserialize<'a>>(payload: &'a [u8]) -> Result<T, Reject> {
    serde_json::from_slice(payload).map_err(|e| {
        let detail = e.to_string();
        let reason = match e.classify() {
            serde_json::error::Category::Data if detail.starts_with("missing field") => {
                RejectReason::MissingField
            }
            serde_json::error::Category::Data
                if detail.starts_with("invalid value") || detail.starts_with("unknown variant") =>
            {
                RejectReason::BadValue
            }
            serde_json::error::Category::Data if !detail.starts_with("duplicate field") => {
                RejectReason::WrongType
            }
            _ => RejectReason::Malformed,
        };
        Reject { reason, detail }
    })
}

fn status(payload: &[u8]) -> Result<Status, Reject> {
    let bare = |state| Status {
        state,
        battery_pct: None,
        rssi: None,
        fw: None,
        device_id: None,
    };
    match payload.trim_ascii() {
        b"online" | b"\"online\"" => Ok(bare(StatusState::Online)),
        b"offline" | b"\"offline\"" => Ok(bare(StatusState::Offline)),
        other => json::<Status>(other),
    }
}

fn validate(message: &Message, device_id: &str, limits: &Limits) -> Result<(), Reject> {
    if let Some(claimed) = message.claimed_id() {
        if claimed != device_id {
            return Err(Reject::new(
                RejectReason::IdentityMismatch,
                format!(
                    "payload device_id `{}` but topic says `{device_id}`",
                    clip(claimed)
                ),
            ));
        }
    }
    match message {
        Message::Telemetry(t) => {
            if t.values.is_empty() {
                return Err(Reject::new(RejectReason::BadValue, "`values` is empty"));
            }
            values("values", &t.values, limits)
        }
        Message::Event(e) => {
            if !is_valid_id(&e.kind) {
                return Err(Reject::new(
                    RejectReason::BadValue,
                    format!("event type `{}` is not a valid name", clip(&e.kind)),
                ));
            }
            values("data", &e.data, limits)
        }
        Message::Status(s) => match s.battery_pct {
            Some(b) if !(0.0..=100.0).contains(&b) => Err(Reject::new(
                RejectReason::BadValue,
                format!("battery_pct {b} is outside 0–100"),
            )),
            _ => text("fw", s.fw.as_deref(), limits),
        },
        Message::Announce(a) => {
            if !is_valid_kind(&a.kind) {
                return Err(Reject::new(
                    RejectReason::BadValue,
                    format!(
                        "kind `{}` is not dotted lowercase like `care.sos_button`",
                        clip(&a.kind)
                    ),
                ));
            }
            text("model", a.model.as_deref(), limits)?;
            text("fw", a.fw.as_deref(), limits)?;
            if let Some(loc) = &a.location {
                for (name, v) in [
                    ("building", &loc.building),
                    ("unit", &loc.unit),
                    ("room", &loc.room),
                ] {
                    text(name, v.as_deref(), limits)?;
                }
            }
            Ok(())
        }
    }
}

fn values(field: &str, values: &Values, limits: &Limits) -> Result<(), Reject> {
    if values.len() > limits.max_values {
        return Err(Reject::new(
            RejectReason::BadValue,
            format!(
                "`{field}` has {} entries, limit {}",
                values.len(),
                limits.max_values
            ),
        ));
    }
    for (name, value) in values {
        if !is_valid_id(name) {
            return Err(Reject::new(
                RejectReason::BadValue,
                format!(
                    "`{field}` name `{}` is not [A-Za-z0-9_.-]{{1,64}}",
                    clip(name)
                ),
            ));
        }
        match value {
            crate::Value::Number(n) if !n.is_finite() => {
                return Err(Reject::new(
                    RejectReason::BadValue,
                    format!("`{field}.{name}` is not finite"),
                ));
            }
            crate::Value::Text(t) => text(name, Some(t), limits)?,
            _ => {}
        }
    }
    Ok(())
}

fn text(field: &str, value: Option<&str>, limits: &Limits) -> Result<(), Reject> {
    match value {
        Some(t) if t.len() > limits.max_text_len => Err(Reject::new(
            RejectReason::BadValue,
            format!(
                "`{field}` is {} bytes, limit {}",
                t.len(),
                limits.max_text_len
            ),
        )),
        _ => Ok(()),
    }
}

/// True for a dotted lowercase kind like `care.sos_button`, at most 64 bytes.
pub fn is_valid_kind(kind: &str) -> bool {
    kind.len() <= 64
        && kind.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

fn clip(s: &str) -> String {
    let mut end = s.len().min(64);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

#[cfg(test)]
mod tests;
