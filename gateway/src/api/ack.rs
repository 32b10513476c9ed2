//! One-tap acknowledgement. `GET /ack/{token}` shows the alarm and one button (a POST form), so
//! that link previews in chat apps, which only GET, acknowledge nothing; `POST /ack/{token}`
//! acknowledges as the staff member the token names, through the pipeline like any other
//! acknowledgement (`via link`). Used, expired and forged links each get a clear page.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use linli_protocols::Handling;
use tokio::sync::oneshot;

use super::ApiState;
use super::alarms::ask;
use crate::alarms::{ActError, Alarm, title};
use crate::notify::text::{escape, local_time};
use crate::notify::{Claim, TokenError};
use crate::pipeline::{Command, CommandError};

/// Texts in the reader's language.
#[derive(Clone, Copy)]
struct Lang(bool);

impl Lang {
    fn of(s: &ApiState, staff_id: &str) -> Lang {
        Lang(
            s.auth
                .staff(staff_id)
                .is_none_or(|p| p.lang.starts_with("zh")),
        )
    }

    fn t<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        if self.0 { zh } else { en }
    }
}

fn page(status: StatusCode, lang: Lang, heading: &str, body: &str) -> Response {
    let html = format!(
        "<!doctype html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{heading}</title>\
         <style>body{{font-family:sans-serif;max-width:36em;margin:2em auto;padding:0 1em}}\
         button{{font-size:1.4em;padding:.6em 1.4em}}</style></head>\
         <body><h1>{heading}</h1>{body}</body></html>",
        lang.t("zh-CN", "en"),
        heading = escape(heading),
    );
    (status, Html(html)).into_response()
}

fn invalid() -> Response {
    page(
        StatusCode::NOT_FOUND,
        Lang(true),
        "链接无效 / This link is not valid",
        "<p>这个确认链接无效或已被修改。请在控制台或应用中处理报警。</p>\
         <p>This acknowledgement link is not valid, or it was altered. Please handle the alarm \
         in the console or the app.</p>",
    )
}

fn expired(s: &ApiState, claim: &Claim) -> Response {
    let lang = Lang::of(s, &claim.staff_id);
    let when = local_time(claim.expires_at, s.utc_offset);
    page(
        StatusCode::GONE,
        lang,
        lang.t("链接已过期", "This link has expired"),
        &format!(
            "<p>{} {}</p>",
            lang.t(
                "这个确认链接已于以下时间过期：",
                "This acknowledgement link expired at"
            ),
            escape(&when)
        ),
    )
}

/// The page for an alarm that can no longer be acknowledged, if it is one.
fn handled(s: &ApiState, lang: Lang, staff_id: &str, a: &Alarm) -> Option<Response> {
    let heading = title(lang.t("zh-CN", "en"), a.severity, &a.rule, &a.place);
    let when = |t: Option<u64>| t.map(|t| local_time(t, s.utc_offset)).unwrap_or_default();
    let text = match a.status {
        Handling::Open => return None,
        Handling::Acknowledged if a.acked_by.as_deref() == Some(staff_id) => format!(
            "{} {}",
            lang.t("您已确认接单，时间：", "You acknowledged this alarm at"),
            when(a.acked_at)
        ),
        Handling::Acknowledged => format!(
            "{} {} {} {}",
            lang.t("已被", "Already acknowledged by"),
            a.acked_by.as_deref().unwrap_or("?"),
            lang.t("确认接单，时间：", "at"),
            when(a.acked_at)
        ),
        Handling::Resolved => format!(
            "{} {} {} {}",
            lang.t("报警已由", "This alarm was already resolved by"),
            a.resolved_by.as_deref().unwrap_or("?"),
            lang.t("处理完毕，时间：", "at"),
            when(a.resolved_at)
        ),
    };
    Some(page(
        StatusCode::CONFLICT,
        lang,
        &heading,
        &format!("<p><strong>{}</strong></p>", escape(&text)),
    ))
}

/// `GET /ack/{token}`: the alarm and a button.
pub async fn page_get(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let claim = match s.link.verify(&token, crate::now_ms()) {
        Ok(c) => c,
        Err(TokenError::Invalid) => return invalid(),
        Err(TokenError::Expired(c)) => return expired(&s, &c),
    };
    let lang = Lang::of(&s, &claim.staff_id);
    let alarm = match s.store.alarm(&claim.alarm_id) {
        Ok(Some(a)) => a,
        Ok(None) => return invalid(),
        Err(e) => return super::ApiError::from(e).into_response(),
    };
    if let Some(done) = handled(&s, lang, &claim.staff_id, &alarm) {
        return done;
    }
    let heading = title(
        lang.t("zh-CN", "en"),
        alarm.severity,
        &alarm.rule,
        &alarm.place,
    );
    let body = format!(
        "<p>{} {}</p><form method=\"post\"><button type=\"submit\">{}</button></form>\
         <p><a href=\"/console/alarms/{}\">{}</a></p>",
        lang.t("报警时间：", "Raised at"),
        escape(&local_time(alarm.raised_at, s.utc_offset)),
        lang.t("确认接单", "Acknowledge"),
        crate::notify::percent_encode(&alarm.id),
        lang.t("在值班台查看详情", "Open it in the console"),
    );
    page(StatusCode::OK, lang, &heading, &body)
}

/// `POST /ack/{token}`: acknowledges as the token's staff member.
pub async fn confirm(State(s): State<ApiState>, Path(token): Path<String>) -> Response {
    let claim = match s.link.verify(&token, crate::now_ms()) {
        Ok(c) => c,
        Err(TokenError::Invalid) => return invalid(),
        Err(TokenError::Expired(c)) => return expired(&s, &c),
    };
    let lang = Lang::of(&s, &claim.staff_id);
    let Some(person) = s.auth.staff(&claim.staff_id).cloned() else {
        // Removed from the staff since the link was sent.
        return invalid();
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Act {
        alarm_id: claim.alarm_id.clone(),
        resolve: false,
        by: claim.staff_id.clone(),
        note: None,
        via: "link",
        reply,
    };
    let outcome = match ask(&s, command, answer).await {
        Ok(o) => o,
        Err(e) => return e.into_response(),
    };
    match outcome {
        Ok(alarm) => {
            let heading = lang.t("已确认接单", "Acknowledged");
            let body = format!(
                "<p><strong>{}</strong></p><p>{}</p>",
                escape(&title(
                    lang.t("zh-CN", "en"),
                    alarm.severity,
                    &alarm.rule,
                    &alarm.place
                )),
                escape(&format!(
                    "{}{}{}",
                    lang.t("谢谢，", "Thank you, "),
                    person.name,
                    lang.t("。请尽快到场处理。", ". Please attend to it now.")
                )),
            );
            page(StatusCode::OK, lang, heading, &body)
        }
        Err(CommandError::Act(ActError::AlreadyAcknowledged { .. } | ActError::NotOpen(_))) => {
            match s.store.alarm(&claim.alarm_id) {
                Ok(Some(a)) => handled(&s, lang, &claim.staff_id, &a).unwrap_or_else(invalid),
                Ok(None) => invalid(),
                Err(e) => super::ApiError::from(e).into_response(),
            }
        }
        Err(other) => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            lang,
            lang.t("未能确认", "Not acknowledged"),
            &format!("<p>{}</p>", escape(&other.to_string())),
        ),
    }
}
