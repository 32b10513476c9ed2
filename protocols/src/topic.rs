//! Topic names: `linli/{site}/{device_id}/{channel}`.

use alloc::format;
use alloc::string::String;
use core::fmt;
use core::str::FromStr;

/// Device ids the hub keeps for its own topics; its device subscription ignores them.
pub const RESERVED_IDS: [&str; 3] = ["alarms", "staff", "hub"];

/// The topic root of the v1 contract.
pub const ROOT: &str = "linli";

/// True when `id` matches `[A-Za-z0-9_.-]{1,64}` (site ids and device ids alike).
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The last topic level: what kind of payload travels there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    /// Device → hub: measured values.
    Telemetry,
    /// Device → hub: something happened (SOS, door forced, ...).
    Event,
    /// Device → hub: online / offline (retained; `offline` is the LWT).
    Status,
    /// Device → hub: retained self-description.
    Announce,
    /// Hub → device: commands. The hub never ingests this channel.
    Cmd,
}

impl Channel {
    /// Every channel, in contract order.
    pub const ALL: [Channel; 5] = [
        Channel::Telemetry,
        Channel::Event,
        Channel::Status,
        Channel::Announce,
        Channel::Cmd,
    ];

    /// The topic level spelling.
    pub const fn as_str(self) -> &'static str {
        match self {
            Channel::Telemetry => "telemetry",
            Channel::Event => "event",
            Channel::Status => "status",
            Channel::Announce => "announce",
            Channel::Cmd => "cmd",
        }
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Channel {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s).ok_or(())
    }
}

/// Why a topic is not a device topic of this site.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    /// Not `linli/{site}/{device}/{channel}` at all.
    #[error("topic is not linli/{{site}}/{{device_id}}/{{channel}}")]
    Shape,
    /// The site level names another site.
    #[error("topic belongs to site `{0}`")]
    OtherSite(String),
    /// The device level is not a valid id.
    #[error("device id `{0}` does not match [A-Za-z0-9_.-]{{1,64}}")]
    BadId(String),
    /// The device level is one of [`RESERVED_IDS`]: the hub's own traffic.
    #[error("device id `{0}` is reserved for the hub")]
    Reserved(String),
    /// The last level is not a known channel.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
}

/// A parsed device topic, borrowing from the topic string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceTopic<'a> {
    /// The site id.
    pub site: &'a str,
    /// The device id.
    pub device_id: &'a str,
    /// The channel.
    pub channel: Channel,
}

impl<'a> DeviceTopic<'a> {
    /// Parses `topic` as a device topic of `site`.
    pub fn parse(site: &str, topic: &'a str) -> Result<Self, TopicError> {
        let mut levels = topic.split('/');
        let (Some(ROOT), Some(s), Some(device_id), Some(channel), None) = (
            levels.next(),
            levels.next(),
            levels.next(),
            levels.next(),
            levels.next(),
        ) else {
            return Err(TopicError::Shape);
        };
        if s != site {
            return Err(TopicError::OtherSite(s.into()));
        }
        if RESERVED_IDS.contains(&device_id) {
            return Err(TopicError::Reserved(device_id.into()));
        }
        if !is_valid_id(device_id) {
            return Err(TopicError::BadId(truncate(device_id, 80)));
        }
        let channel = channel
            .parse()
            .map_err(|()| TopicError::UnknownChannel(truncate(channel, 80)))?;
        Ok(DeviceTopic {
            site: s,
            device_id,
            channel,
        })
    }

    /// The topic string for `site`, `device_id` and `channel`.
    pub fn format(site: &str, device_id: &str, channel: Channel) -> String {
        format!("{ROOT}/{site}/{device_id}/{channel}")
    }
}

fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_refuses() {
        let t = DeviceTopic::parse("sg", "linli/sg/gate-1/event").unwrap();
        assert_eq!((t.device_id, t.channel), ("gate-1", Channel::Event));
        assert_eq!(
            DeviceTopic::parse("sg", "linli/sg/gate-1"),
            Err(TopicError::Shape)
        );
        assert_eq!(
            DeviceTopic::parse("sg", "linli/sg/a/b/c"),
            Err(TopicError::Shape)
        );
        assert!(matches!(
            DeviceTopic::parse("sg", "linli/xx/a/event"),
            Err(TopicError::OtherSite(_))
        ));
        assert!(matches!(
            DeviceTopic::parse("sg", "linli/sg/a b/event"),
            Err(TopicError::BadId(_))
        ));
        assert!(matches!(
            DeviceTopic::parse("sg", "linli/sg//event"),
            Err(TopicError::BadId(_))
        ));
        assert!(matches!(
            DeviceTopic::parse("sg", "linli/sg/alarms/event"),
            Err(TopicError::Reserved(_))
        ));
        assert!(matches!(
            DeviceTopic::parse("sg", "linli/sg/a/video"),
            Err(TopicError::UnknownChannel(_))
        ));
        assert!(!is_valid_id(&"x".repeat(65)));
        assert!(is_valid_id(&"x".repeat(64)));
    }

    proptest! {
        #[test]
        fn format_then_parse_round_trips(id in "[A-Za-z0-9_.-]{1,64}", c in 0usize..5) {
            prop_assume!(!RESERVED_IDS.contains(&id.as_str()));
            let channel = Channel::ALL[c];
            let topic = DeviceTopic::format("site-1", &id, channel);
            let parsed = DeviceTopic::parse("site-1", &topic).unwrap();
            prop_assert_eq!(parsed.device_id, id.as_str());
            prop_assert_eq!(parsed.channel, channel);
        }

        #[test]
        fn any_topic_parses_or_errs(topic in "\\PC{0,120}") {
            let _ = DeviceTopic::parse("site-1", &topic);
        }
    }
}
