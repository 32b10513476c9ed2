//! E-mail over SMTP (lettre, rustls on ring): plain text and HTML alternatives, STARTTLS, implicit
//! TLS or none, with optional login. Delivered means the server answered 250 to the message.

use std::time::Duration;

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::SendError;
use super::channels::Outgoing;
use crate::config::{SmtpConfig, SmtpTls};

/// The mail server and sender.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// From `[smtp]` (validated); `timeout` bounds each SMTP command.
    pub fn new(c: &SmtpConfig, timeout: Duration) -> Result<Self, String> {
        let builder = match c.tls {
            SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&c.host)
                .map_err(|e| format!("smtp.host: {e}"))?,
            SmtpTls::Implicit => AsyncSmtpTransport::<Tokio1Executor>::relay(&c.host)
                .map_err(|e| format!("smtp.host: {e}"))?,
            SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&c.host),
        };
        let mut builder = builder.port(c.port()).timeout(Some(timeout));
        if let (Some(user), Some(password)) = (&c.username, &c.password) {
            builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
        }
        let from = c
            .from
            .parse()
            .map_err(|e| format!("smtp.from `{}`: {e}", c.from))?;
        Ok(Mailer {
            transport: builder.build(),
            from,
        })
    }

    /// Sends one message; the idempotency key is its Message-ID and an `X-Linli-Key` header.
    pub async fn send_mail(&self, to: &str, msg: Outgoing<'_>) -> Result<String, SendError> {
        let to: Mailbox = to
            .parse()
            .map_err(|e| SendError::Request(format!("address: {e}")))?;
        let id: String = msg
            .key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '.'
                }
            })
            .collect();
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&msg.rendered.title)
            .message_id(Some(format!("<{id}@linli>")))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Linli-Key"),
                msg.key.to_string(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                msg.rendered.text.clone(),
                msg.rendered.html.clone(),
            ))
            .map_err(|e| SendError::Request(e.to_string()))?;
        let response = self
            .transport
            .send(message)
            .await
            .map_err(|e| SendError::Smtp(e.to_string()))?;
        Ok(format!("SMTP {}", response.code()))
    }
}
