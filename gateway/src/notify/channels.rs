//! The channel adapters behind one trait: each turns one message for one receiver into that
//! receiver's format and reports success only once the receiver confirmed it.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use base64::Engine as _;
use linli_protocols::StaffNotification;
use ring::hmac;
use serde_json::json;

use super::SendError;
use super::console::Console;
use super::email::Mailer;
use super::http::{Answer, HttpClient};
use super::mqtt::Publisher;
use super::text::Rendered;
use crate::config::{Channel, SmsConfig, SmsFormat};

/// A send in progress; `Ok` carries the receiver's confirmation (`HTTP 200`, `SMTP 250`, ...).
pub type Sending<'a> = Pin<Box<dyn Future<Output = Result<String, SendError>> + Send + 'a>>;

/// One message for one receiver.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// To whom.
    pub staff_id: &'a str,
    /// Idempotency key: the same for every attempt of this notification on this channel.
    pub key: &'a str,
    /// Which of the person's channels.
    pub index: u32,
    /// The notification.
    pub body: &'a StaffNotification,
    /// Its text.
    pub rendered: &'a Rendered,
    /// The acknowledgement link.
    pub ack_url: &'a str,
    /// Residents' names, if the reader's role may see them.
    pub residents: &'a [String],
}

/// A channel: one message to one receiver, confirmed.
pub trait Adapter: Send + Sync + std::fmt::Debug {
    /// Sends `msg` to `to` (a channel of this adapter's kind).
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a>;
}

fn wrong(kind: &'static str) -> SendError {
    SendError::Request(format!("not a {kind} channel"))
}

fn ok_2xx(a: &Answer) -> Result<String, SendError> {
    if (200..300).contains(&a.status) {
        Ok(format!("HTTP {}", a.status))
    } else {
        Err(SendError::Status {
            status: a.status,
            body: a.body.chars().take(200).collect(),
        })
    }
}

/// Group robots answer 200 with `{"errcode": 0}`; anything else (rate limit, bad key) is a
/// refusal.
fn robot_ok(a: &Answer) -> Result<String, SendError> {
    ok_2xx(a)?;
    let answer: serde_json::Value = serde_json::from_str(&a.body)
        .map_err(|_| SendError::Refused(format!("not JSON: {}", truncate(&a.body))))?;
    match answer.get("errcode").and_then(serde_json::Value::as_i64) {
        Some(0) => Ok(format!("HTTP {}, errcode 0", a.status)),
        Some(code) => Err(SendError::Refused(format!(
            "errcode {code}: {}",
            answer
                .get("errmsg")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default()
        ))),
        None => Err(SendError::Refused(format!(
            "no errcode: {}",
            truncate(&a.body)
        ))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(200).collect()
}

/// `sha256=<hex>` of `body` under `secret`: the `X-Linli-Signature` header.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()), body);
    let mut out = String::from("sha256=");
    for b in tag.as_ref() {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Generic webhook: a JSON POST signed with `X-Linli-Signature`, keyed by `Idempotency-Key`.
#[derive(Debug, Clone)]
pub struct Webhook(pub HttpClient);

impl Adapter for Webhook {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            let Channel::Webhook { url, secret } = to else {
                return Err(wrong("webhook"));
            };
            let mut body = json!({
                "key": msg.key,
                "staff_id": msg.staff_id,
                "channel": msg.index,
                "sent_at": crate::now_ms(),
                "title": msg.rendered.title,
                "text": msg.rendered.text,
                "ack_url": msg.ack_url,
                "notification": msg.body,
            });
            if !msg.residents.is_empty() {
                body["residents"] = json!(msg.residents);
            }
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let mut headers = vec![("idempotency-key", msg.key.to_string())];
            if let Some(secret) = secret {
                headers.push(("x-linli-signature", signature(secret, &body)));
            }
            let answer = self.0.post(url, "application/json", &headers, body).await?;
            ok_2xx(&answer)
        })
    }
}

/// WeCom (企业微信) group robot: `{"msgtype": "markdown", "markdown": {"content": ...}}`.
#[derive(Debug, Clone)]
pub struct Wecom(pub HttpClient);

/// WeCom refuses markdown content over 4096 bytes.
const WECOM_MAX: usize = 4_096;

impl Adapter for Wecom {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            let Channel::Wecom { url } = to else {
                return Err(wrong("wecom"));
            };
            let body = json!({
                "msgtype": "markdown",
                "markdown": { "content": cut(&msg.rendered.markdown, WECOM_MAX) },
            });
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let answer = self.0.post(url, "application/json", &[], body).await?;
            robot_ok(&answer)
        })
    }
}

/// At most `max` bytes of `s`, on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// DingTalk (钉钉) group robot: markdown; with a secret, `&timestamp=&sign=` on the URL.
#[derive(Debug, Clone)]
pub struct Dingtalk(pub HttpClient);

/// DingTalk's `sign`: base64 of HMAC-SHA256 over `"{timestamp}\n{secret}"` keyed by the
/// secret, percent-encoded for the query string.
pub fn dingtalk_sign(secret: &str, timestamp_ms: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{timestamp_ms}\n{secret}").as_bytes());
    percent_encode(&base64::engine::general_purpose::STANDARD.encode(tag.as_ref()))
}

impl Adapter for Dingtalk {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            let Channel::Dingtalk { url, secret } = to else {
                return Err(wrong("dingtalk"));
            };
            let url = match secret {
                Some(secret) => {
                    let ts = crate::now_ms();
                    let join = if url.contains('?') { '&' } else { '?' };
                    format!(
                        "{url}{join}timestamp={ts}&sign={}",
                        dingtalk_sign(secret, ts)
                    )
                }
                None => url.clone(),
            };
            let body = json!({
                "msgtype": "markdown",
                "markdown": { "title": msg.rendered.title, "text": msg.rendered.markdown },
            });
            let body = serde_json::to_vec(&body).unwrap_or_default();
            let answer = self.0.post(&url, "application/json", &[], body).await?;
            robot_ok(&answer)
        })
    }
}

/// An HTTP SMS gateway: `[sms] body` with `{to}` and `{text}` POSTed to `[sms] url`.
#[derive(Debug, Clone)]
pub struct Sms {
    /// Client.
    pub http: HttpClient,
    /// Gateway.
    pub config: Arc<SmsConfig>,
}

/// Fills the SMS template, escaping per `format`.
pub fn sms_body(template: &str, format: SmsFormat, to: &str, text: &str) -> String {
    let escape = |v: &str| match format {
        SmsFormat::Json => {
            let quoted = serde_json::to_string(v).unwrap_or_default();
            quoted[1..quoted.len().saturating_sub(1).max(1)].to_string()
        }
        SmsFormat::Form => percent_encode(v),
        SmsFormat::Text => v.to_string(),
    };
    // One pass, so a `{to}` inside the text is not substituted again.
    let mut out = String::with_capacity(template.len() + text.len());
    let mut rest = template;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{to}") {
            out.push_str(&escape(to));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{text}") {
            out.push_str(&escape(text));
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

impl Adapter for Sms {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            let Channel::Sms { to } = to else {
                return Err(wrong("sms"));
            };
            let c = &self.config;
            let body = sms_body(&c.body, c.format, to, &msg.rendered.short);
            let mut content_type = match c.format {
                SmsFormat::Json => "application/json",
                SmsFormat::Form => "application/x-www-form-urlencoded",
                SmsFormat::Text => "text/plain; charset=utf-8",
            };
            let mut headers = vec![("idempotency-key", msg.key.to_string())];
            for (k, v) in &c.headers {
                if k.eq_ignore_ascii_case("content-type") {
                    content_type = v;
                } else {
                    headers.push((k.as_str(), v.clone()));
                }
            }
            let answer = self
                .http
                .post(&c.url, content_type, &headers, body.into_bytes())
                .await?;
            ok_2xx(&answer)
        })
    }
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// E-mail.
impl Adapter for Mailer {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            let Channel::Email { to } = to else {
                return Err(wrong("email"));
            };
            self.send_mail(to, msg).await
        })
    }
}

/// The MQTT staff topic, on the notifier's own connection, confirmed by PUBACK.
#[derive(Debug)]
pub struct Mqtt {
    /// The publisher.
    pub publisher: Publisher,
    /// Site id.
    pub site: String,
}

impl Adapter for Mqtt {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            if *to != Channel::Mqtt {
                return Err(wrong("mqtt"));
            }
            let topic = format!("linli/{}/staff/{}/notify", self.site, msg.staff_id);
            let payload = serde_json::to_vec(msg.body).unwrap_or_default();
            self.publisher
                .publish(&topic, payload, false)
                .await
                .map_err(|e| SendError::Mqtt(e.to_string()))?;
            Ok("PUBACK".into())
        })
    }
}

impl Adapter for Console {
    fn send<'a>(&'a self, to: &'a Channel, msg: Outgoing<'a>) -> Sending<'a> {
        Box::pin(async move {
            if *to != Channel::Console {
                return Err(wrong("console"));
            }
            let payload = json!({
                "key": msg.key,
                "title": msg.rendered.title,
                "text": msg.rendered.text,
                "ack_url": msg.ack_url,
                "notification": msg.body,
            });
            match self.publish(msg.staff_id, payload.to_string()) {
                0 => Err(SendError::NoListener),
                n => Ok(format!("{n} console(s) open")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_signature_is_hex_hmac_sha256() {
        // RFC 4231 test case 2.
        assert_eq!(
            signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn dingtalk_sign_matches_its_documented_construction() {
        let sign = dingtalk_sign("SEC000", 1_700_000_000_000);
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"SEC000");
        let tag = hmac::sign(&key, b"1700000000000\nSEC000");
        let b64 = base64::engine::general_purpose::STANDARD.encode(tag.as_ref());
        assert_eq!(sign, percent_encode(&b64));
        assert!(!sign.contains('+') && !sign.contains('/') && !sign.contains('='));
    }

    #[test]
    fn sms_templates_escape_per_format() {
        let json = sms_body(
            r#"{"to":"{to}","text":"{text}","x":"{y}"}"#,
            SmsFormat::Json,
            "+86138",
            "say \"hi\" {to}\n",
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["text"], "say \"hi\" {to}\n");
        assert_eq!(v["to"], "+86138");
        assert_eq!(v["x"], "{y}");
        assert_eq!(
            sms_body("to={to}&msg={text}", SmsFormat::Form, "+86 1", "报警 a&b"),
            "to=%2B86%201&msg=%E6%8A%A5%E8%AD%A6%20a%26b"
        );
    }

    #[test]
    fn robot_answers_need_errcode_zero() {
        let a = |status, body: &str| Answer {
            status,
            body: body.into(),
        };
        assert!(robot_ok(&a(200, r#"{"errcode":0,"errmsg":"ok"}"#)).is_ok());
        assert!(
            robot_ok(&a(
                200,
                r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#
            ))
            .is_err()
        );
        assert!(robot_ok(&a(200, "ok")).is_err());
        assert!(robot_ok(&a(502, r#"{"errcode":0}"#)).is_err());
        assert_eq!(cut("一二三", 4), "一");
    }
}
