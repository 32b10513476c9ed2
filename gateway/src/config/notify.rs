//! How people are reached: each staff member's channels (`[[staff]] notify`), the delivery limits
//! (`[notify]`), the mail server (`[smtp]`) and the SMS gateway (`[sms]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Dur;

/// One entry of `[[staff]] notify`: exactly one channel key, plus its options. Written like
/// `{ webhook = "https://...", secret = "..." }`, `{ wecom = "https://qyapi.weixin.qq.com/..." }`,
/// `{ dingtalk = "https://oapi.dingtalk.com/robot/send?access_token=...", secret = "SEC..." }`,
/// `{ email = "a@b.cn" }`, `{ sms = "+8613800000000" }`, `{ mqtt = true }`, `{ console = true }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelConfig {
    /// Generic webhook URL: a signed JSON POST.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook: Option<String>,
    /// WeCom (企业微信) group robot URL, with its `key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wecom: Option<String>,
    /// DingTalk (钉钉) group robot URL, with its `access_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dingtalk: Option<String>,
    /// E-mail address (needs `[smtp]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Mobile number (needs `[sms]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sms: Option<String>,
    /// `true`: the MQTT staff topic `linli/{site}/staff/{id}/notify`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt: Option<bool>,
    /// `true`: the console's live stream, confirmed when this person has it open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub console: Option<bool>,
    /// Webhook: key of the `X-Linli-Signature` HMAC. DingTalk: the robot's signing secret.
    /// Never serialized back out.
    #[serde(default, skip_serializing)]
    pub secret: Option<String>,
}

/// A validated channel of one person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Generic webhook.
    Webhook {
        /// URL.
        url: String,
        /// HMAC key for `X-Linli-Signature`, if any.
        secret: Option<String>,
    },
    /// WeCom group robot.
    Wecom {
        /// URL with `key=`.
        url: String,
    },
    /// DingTalk group robot.
    Dingtalk {
        /// URL with `access_token=`.
        url: String,
        /// Signing secret (`SEC...`), if the robot has one.
        secret: Option<String>,
    },
    /// E-mail.
    Email {
        /// Address.
        to: String,
    },
    /// SMS through the configured gateway.
    Sms {
        /// Number.
        to: String,
    },
    /// MQTT staff topic.
    Mqtt,
    /// Console live stream.
    Console,
}

/// Every channel kind, for metrics.
pub const CHANNEL_KINDS: [&str; 7] = [
    "webhook", "wecom", "dingtalk", "email", "sms", "mqtt", "console",
];

impl Channel {
    /// The kind's name (`webhook`, `wecom`, ...).
    pub fn kind(&self) -> &'static str {
        match self {
            Channel::Webhook { .. } => "webhook",
            Channel::Wecom { .. } => "wecom",
            Channel::Dingtalk { .. } => "dingtalk",
            Channel::Email { .. } => "email",
            Channel::Sms { .. } => "sms",
            Channel::Mqtt => "mqtt",
            Channel::Console => "console",
        }
    }

    /// The receiver, for receipts and per-receiver limits; URLs lose their query (robot keys
    /// live there), numbers and addresses are partly masked.
    pub fn target(&self) -> String {
        match self {
            Channel::Webhook { url, .. }
            | Channel::Wecom { url }
            | Channel::Dingtalk { url, .. } => {
                url.split(['?', '#']).next().unwrap_or_default().to_string()
            }
            Channel::Email { to } => match to.split_once('@') {
                Some((local, domain)) => {
                    format!("{}***@{domain}", local.chars().next().unwrap_or('*'))
                }
                None => "***".into(),
            },
            Channel::Sms { to } => {
                let digits: Vec<char> = to.chars().collect();
                let n = digits.len();
                digits
                    .iter()
                    .enumerate()
                    .map(|(i, c)| if i + 4 < n && i >= 3 { '*' } else { *c })
                    .collect()
            }
            Channel::Mqtt => "staff topic".into(),
            Channel::Console => "console".into(),
        }
    }

    /// Where concurrency is limited: one receiver (a group robot shared by several people is
    /// one receiver).
    pub fn receiver(&self) -> String {
        match self {
            Channel::Webhook { url, .. }
            | Channel::Wecom { url }
            | Channel::Dingtalk { url, .. } => {
                format!("{}:{url}", self.kind())
            }
            Channel::Email { .. } => "email".into(),
            Channel::Sms { .. } => "sms".into(),
            Channel::Mqtt => "mqtt".into(),
            Channel::Console => "console".into(),
        }
    }
}

impl ChannelConfig {
    /// The channel this entry names, or what is wrong with it (message, fix).
    pub fn channel(&self) -> Result<Channel, (String, &'static str)> {
        let kinds = [
            ("webhook", self.webhook.is_some()),
            ("wecom", self.wecom.is_some()),
            ("dingtalk", self.dingtalk.is_some()),
            ("email", self.email.is_some()),
            ("sms", self.sms.is_some()),
            ("mqtt", self.mqtt.is_some()),
            ("console", self.console.is_some()),
        ];
        let named: Vec<&str> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        let fix_one = "write exactly one of webhook, wecom, dingtalk, email, sms, mqtt, console per entry; list several entries for several channels";
        let [kind] = named.as_slice() else {
            return Err(if named.is_empty() {
                ("names no channel".into(), fix_one)
            } else {
                (
                    format!("names {} channels at once", named.join(" and ")),
                    fix_one,
                )
            });
        };
        if self.secret.is_some() && !matches!(*kind, "webhook" | "dingtalk") {
            return Err((
                format!("`secret` does not apply to {kind}"),
                "remove `secret`; only webhook and dingtalk entries are signed",
            ));
        }
        if self.secret.as_ref().is_some_and(|s| s.is_empty()) {
            return Err((
                "`secret` is empty".into(),
                "give the secret, or leave it out",
            ));
        }
        let url = |u: &String| -> Result<String, (String, &'static str)> {
            if valid_url(u) {
                Ok(u.clone())
            } else {
                Err((
                    format!("`{u}` is not an http(s) URL"),
                    "write the receiver's full URL, like https://host/path?key=...",
                ))
            }
        };
        let flag = |v: Option<bool>| -> Result<(), (String, &'static str)> {
            if v == Some(true) {
                Ok(())
            } else {
                Err((
                    format!("`{kind} = false` turns nothing on"),
                    "write `{ mqtt = true }` / `{ console = true }`, or remove the entry",
                ))
            }
        };
        Ok(match *kind {
            "webhook" => Channel::Webhook {
                url: url(self.webhook.as_ref().unwrap_or(&String::new()))?,
                secret: self.secret.clone(),
            },
            "wecom" => Channel::Wecom {
                url: url(self.wecom.as_ref().unwrap_or(&String::new()))?,
            },
            "dingtalk" => Channel::Dingtalk {
                url: url(self.dingtalk.as_ref().unwrap_or(&String::new()))?,
                secret: self.secret.clone(),
            },
            "email" => {
                let to = self.email.clone().unwrap_or_default();
                if !valid_address(&to) {
                    return Err((
                        format!("`{to}` is not an e-mail address"),
                        "write it like name@example.cn",
                    ));
                }
                Channel::Email { to }
            }
            "sms" => {
                let to = self.sms.clone().unwrap_or_default();
                let digits = to.chars().filter(char::is_ascii_digit).count();
                let shape = to
                    .chars()
                    .enumerate()
                    .all(|(i, c)| c.is_ascii_digit() || (i == 0 && c == '+') || c == '-');
                if !shape || !(5..=20).contains(&digits) {
                    return Err((
                        format!("`{to}` is not a phone number"),
                        "write digits with an optional leading +, like +8613800000000",
                    ));
                }
                Channel::Sms { to }
            }
            "mqtt" => {
                flag(self.mqtt)?;
                Channel::Mqtt
            }
            _ => {
                flag(self.console)?;
                Channel::Console
            }
        })
    }

    /// `{ mqtt = true }`.
    pub fn mqtt() -> Self {
        ChannelConfig {
            mqtt: Some(true),
            ..Default::default()
        }
    }
}

/// True for `http://host...` or `https://host...` without spaces.
pub fn valid_url(u: &str) -> bool {
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty()
            && !r.starts_with('/')
            && !u.chars().any(|c| c.is_whitespace() || c.is_control())
            && u.parse::<axum::http::Uri>().is_ok()
    })
}

fn valid_address(a: &str) -> bool {
    a.parse::<lettre::Address>().is_ok()
}

/// `[notify]`: delivery limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// How long one channel of a person is tried before the next one is used. Default `"2m"`.
    #[serde(default = "default_max_age")]
    pub max_age: Dur,
    /// Longest wait for any one receiver's answer. Default `"10s"`.
    #[serde(default = "default_timeout")]
    pub timeout: Dur,
    /// Deliveries in flight to one receiver at a time. Default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Deliveries in flight in all. Default 64.
    #[serde(default = "default_in_flight")]
    pub max_in_flight: usize,
    /// First retry delay; it doubles per failure, with up to 25 % jitter. Default `"1s"`.
    #[serde(default = "default_backoff")]
    pub backoff: Dur,
    /// Longest retry delay. Default `"1m"`.
    #[serde(default = "default_backoff_max")]
    pub backoff_max: Dur,
    /// A notification no channel took within this is dropped (with an audit record); escalation
    /// repeats keep sending new ones. Default `"1h"`.
    #[serde(default = "default_give_up")]
    pub give_up: Dur,
    /// How long an acknowledgement link works. Default `"24h"`.
    #[serde(default = "default_link_ttl")]
    pub link_ttl: Dur,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            max_age: default_max_age(),
            timeout: default_timeout(),
            concurrency: default_concurrency(),
            max_in_flight: default_in_flight(),
            backoff: default_backoff(),
            backoff_max: default_backoff_max(),
            give_up: default_give_up(),
            link_ttl: default_link_ttl(),
        }
    }
}

fn default_max_age() -> Dur {
    Dur::secs(120)
}
fn default_timeout() -> Dur {
    Dur::secs(10)
}
fn default_concurrency() -> usize {
    4
}
fn default_in_flight() -> usize {
    64
}
fn default_backoff() -> Dur {
    Dur::secs(1)
}
fn default_backoff_max() -> Dur {
    Dur::secs(60)
}
fn default_give_up() -> Dur {
    Dur::secs(3_600)
}
fn default_link_ttl() -> Dur {
    Dur::secs(86_400)
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS (a relay on the same host or network only).
    None,
}

/// `[smtp]`: the mail server for `email` channels.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// Server host name. Required.
    pub host: String,
    /// Port. Default 587 (starttls), 465 (implicit) or 25 (none).
    #[serde(default)]
    pub port: Option<u16>,
    /// `"starttls"`, `"implicit"` or `"none"`. Default `"starttls"`.
    #[serde(default = "default_tls")]
    pub tls: SmtpTls,
    /// Login. Default: none.
    #[serde(default)]
    pub username: Option<String>,
    /// Password, with `username`. Default: none.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// Sender, like `"Linli 邻里 <alarms@example.cn>"`. Required.
    pub from: String,
}

impl SmtpConfig {
    /// The port in use.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        })
    }
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}

/// How `{to}` and `{text}` are escaped in the SMS body template.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmsFormat {
    /// As JSON string content (the template supplies the quotes); `application/json`.
    Json,
    /// Percent-encoded; `application/x-www-form-urlencoded`.
    Form,
    /// As is; `text/plain; charset=utf-8`.
    Text,
}

/// `[sms]`: an HTTP SMS gateway for `sms` channels: a POST of `body` to `url`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsConfig {
    /// Gateway URL. Required.
    pub url: String,
    /// Body template with `{to}` and `{text}`. Default `{"to":"{to}","text":"{text}"}`.
    #[serde(default = "default_sms_body")]
    pub body: String,
    /// `"json"`, `"form"` or `"text"`: escaping and content type. Default `"json"`.
    #[serde(default = "default_sms_format")]
    pub format: SmsFormat,
    /// Extra request headers (an API key, say). Default none. Never serialized back out.
    #[serde(default, skip_serializing)]
    pub headers: BTreeMap<String, String>,
}

fn default_sms_body() -> String {
    r#"{"to":"{to}","text":"{text}"}"#.into()
}
fn default_sms_format() -> SmsFormat {
    SmsFormat::Json
}

mod check;
pub(super) use check::{Parts, check};

#[cfg(test)]
mod tests;
