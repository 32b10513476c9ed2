//! Checks of `[[staff]] notify`, `[notify]`, `[smtp]`, `[sms]` and the link settings of `[http]`.

use super::super::load::{Problem, push};
use super::{Channel, NotifyConfig, SmsConfig, SmtpConfig, valid_url};

/// What [`check`] looks at; sections that did not parse are `None`.
pub(in crate::config) struct Parts<'a> {
    pub staff: &'a [super::super::StaffConfig],
    pub notify: Option<&'a NotifyConfig>,
    pub smtp: Option<&'a SmtpConfig>,
    pub sms: Option<&'a SmsConfig>,
    pub http: Option<&'a super::super::HttpConfig>,
}

/// Checks every staff member's channels, `[notify]`, `[smtp]` and `[sms]`.
pub(in crate::config) fn check(config: &Parts<'_>, problems: &mut Vec<Problem>) {
    for (i, s) in config.staff.iter().enumerate() {
        if s.notify.is_empty() {
            push(
                problems,
                &format!("staff[{i}].notify"),
                "no channel".into(),
                "add one, e.g. notify = [{ mqtt = true }], or leave `notify` out for that default",
            );
        }
        for (j, c) in s.notify.iter().enumerate() {
            let key = format!("staff[{i}].notify[{j}]");
            match c.channel() {
                Err((message, fix)) => push(problems, &key, message, fix),
                Ok(Channel::Email { .. }) if config.smtp.is_none() => push(
                    problems,
                    &key,
                    "an e-mail channel but no [smtp] section".into(),
                    "add [smtp] with host and from",
                ),
                Ok(Channel::Sms { .. }) if config.sms.is_none() => push(
                    problems,
                    &key,
                    "an SMS channel but no [sms] section".into(),
                    "add [sms] with the gateway's url and body template",
                ),
                Ok(_) => {}
            }
        }
    }
    if let Some(n) = config.notify {
        check_limits(n, problems);
    }
    if let Some(smtp) = config.smtp {
        if smtp.host.trim().is_empty() {
            push(
                problems,
                "smtp.host",
                "empty".into(),
                "give the mail server's host name",
            );
        }
        if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            push(
                problems,
                "smtp.from",
                format!("`{}` is not a sender address", smtp.from),
                "write it like \"Linli <alarms@example.cn>\"",
            );
        }
        if smtp.password.is_some() != smtp.username.is_some() {
            push(
                problems,
                "smtp.username",
                "username and password go together".into(),
                "give both, or neither",
            );
        }
    }
    if let Some(sms) = config.sms {
        if !valid_url(&sms.url) {
            push(
                problems,
                "sms.url",
                format!("`{}` is not an http(s) URL", sms.url),
                "write the gateway's full URL",
            );
        }
        if !sms.body.contains("{text}") || !sms.body.contains("{to}") {
            push(
                problems,
                "sms.body",
                "the template lacks {to} or {text}".into(),
                "put {to} where the number goes and {text} where the message goes",
            );
        }
        for name in sms.headers.keys() {
            if axum::http::HeaderName::from_bytes(name.as_bytes()).is_err() {
                push(
                    problems,
                    "sms.headers",
                    format!("`{name}` is not a header name"),
                    "use letters, digits and dashes",
                );
            }
        }
    }
    let Some(http) = config.http else {
        return;
    };
    if let Some(url) = &http.public_url {
        if !valid_url(url) {
            push(
                problems,
                "http.public_url",
                format!("`{url}` is not an http(s) URL"),
                "write the address staff phones reach the hub at, like https://linli.example.cn",
            );
        }
    }
    if http.link_secret.as_ref().is_some_and(|s| s.len() < 16) {
        push(
            problems,
            "http.link_secret",
            "shorter than 16 characters".into(),
            "use a long random secret, or leave it out to have one generated and kept in the store",
        );
    }
}

fn check_limits(n: &NotifyConfig, problems: &mut Vec<Problem>) {
    if n.concurrency == 0 {
        push(
            problems,
            "notify.concurrency",
            "must be at least 1".into(),
            "use 4",
        );
    }
    if n.max_in_flight < n.concurrency.max(1) {
        push(
            problems,
            "notify.max_in_flight",
            format!("{} is below notify.concurrency", n.max_in_flight),
            "use 64",
        );
    }
    if n.timeout.0.as_millis() < 100 {
        push(
            problems,
            "notify.timeout",
            "under 100ms".into(),
            "use \"10s\"",
        );
    }
    if n.max_age.0.as_millis() < 1_000 {
        push(problems, "notify.max_age", "under 1s".into(), "use \"2m\"");
    }
    if n.backoff.0.as_millis() < 10 || n.backoff > n.backoff_max {
        push(
            problems,
            "notify.backoff",
            format!(
                "{} must be at least 10ms and at most backoff_max ({})",
                n.backoff, n.backoff_max
            ),
            "use \"1s\" with backoff_max = \"1m\"",
        );
    }
    if n.give_up < n.max_age {
        push(
            problems,
            "notify.give_up",
            format!("{} is shorter than max_age ({})", n.give_up, n.max_age),
            "use \"1h\"",
        );
    }
    if n.link_ttl.0.as_secs() < 60 {
        push(
            problems,
            "notify.link_ttl",
            "under 1m".into(),
            "use \"24h\"",
        );
    }
}
