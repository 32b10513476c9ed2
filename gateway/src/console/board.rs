//! The alarm board (unresolved alarms, most severe and oldest first, live over SSE) and the
//! alarm page (facts, timeline, acknowledge and resolve with a note).

use std::fmt::Write;

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use linli_protocols::{Handling, Severity};
use serde::Deserialize;

use super::html::{age, esc, severity_badge, status_badge, time};
use super::{Ctx, Lang, Nav, T};
use crate::alarms::{Alarm, place_text, what};
use crate::api::{ApiError, ApiState, Viewer};

/// The unresolved alarms the viewer may see, most severe first, then oldest first.
fn open_alarms(s: &ApiState, viewer: &Viewer) -> Result<Vec<Alarm>, ApiError> {
    let mut alarms: Vec<Alarm> = s
        .store
        .open_alarms()?
        .into_iter()
        .filter(|a| a.status != Handling::Resolved && viewer.sees(&a.class, &a.place))
        .collect();
    alarms.sort_by_key(|a| (a.severity, a.raised_at, a.id.parse::<u64>().unwrap_or(0)));
    Ok(alarms)
}

/// `GET /console/`: the board.
pub async fn board(ctx: Ctx, State(s): State<ApiState>) -> Response {
    let rows = match rows_html(&ctx, &s) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let body = format!(
        "<div class=\"bar\"><h1>{title}</h1><div class=\"tools\">\
         <span id=\"live\" class=\"live\" data-on=\"{on}\" data-off=\"{off}\" data-retry=\"{retry}\">{off}</span>\
         <button type=\"button\" id=\"sound\" class=\"ghost\" aria-pressed=\"false\">{sound}</button></div></div>\
         <div id=\"board\" aria-live=\"polite\">{rows}</div>",
        title = ctx.t(T::OpenAlarms),
        on = ctx.t(T::Live),
        off = ctx.t(T::Offline),
        retry = ctx.t(T::Reconnecting),
        sound = ctx.t(T::Sound),
    );
    ctx.page(&s, Nav::Board, ctx.t(T::OpenAlarms), &body)
}

/// `GET /console/board/rows`: the board's content alone, re-read by the script on each change.
pub async fn rows(ctx: Ctx, State(s): State<ApiState>) -> Response {
    match rows_html(&ctx, &s) {
        Ok(r) => ctx.respond(StatusCode::OK, r),
        Err(e) => e.into_response(),
    }
}

fn rows_html(ctx: &Ctx, s: &ApiState) -> Result<String, ApiError> {
    let alarms = open_alarms(s, &ctx.viewer)?;
    let now = crate::now_ms();
    let lang = ctx.lang;
    let critical = alarms
        .iter()
        .filter(|a| a.severity == Severity::Critical && a.status == Handling::Open)
        .count();
    let mut out = format!(
        "<div id=\"summary\" data-open=\"{}\" data-critical=\"{critical}\"></div>",
        alarms.len()
    );
    if critical > 0 {
        let _ = write!(
            out,
            "<div class=\"banner\" role=\"alert\"><strong>{critical}</strong> {}</div>",
            ctx.t(T::NewCritical)
        );
    }
    if alarms.is_empty() {
        let _ = write!(
            out,
            "<p class=\"card empty\" id=\"no-alarms\">{}</p>",
            ctx.t(T::NoOpenAlarms)
        );
        return Ok(out);
    }
    out.push_str("<ul class=\"alarms\">");
    for a in &alarms {
        out.push_str(&card(lang, s.utc_offset, now, a));
    }
    out.push_str("</ul>");
    Ok(out)
}

/// One alarm on the board: a link to its page.
fn card(lang: Lang, utc_offset: i32, now: u64, a: &Alarm) -> String {
    let device = a
        .device_id
        .as_deref()
        .or(a.household.as_deref())
        .unwrap_or("");
    let acked = match (&a.acked_by, a.status) {
        (Some(by), Handling::Acknowledged) => format!(" · {} {}", lang.t(T::AckedBy), esc(by)),
        _ => String::new(),
    };
    let count = if a.count > 1 {
        format!("<span class=\"count\">×{}</span>", a.count)
    } else {
        String::new()
    };
    format!(
        "<li><a class=\"alarm sev-{sev} st-{st}\" href=\"/console/alarms/{id}\" data-id=\"{id}\" \
         data-severity=\"{sev}\" data-status=\"{st}\">{badge}\
         <span class=\"main\"><span class=\"title\">{what}{count}</span>\
         <span class=\"where\">{place} · {device}{acked}</span></span>\
         <span class=\"meta\">{status}<span class=\"when\">{raised} · {age}</span></span></a></li>",
        sev = a.severity.as_str(),
        st = a.status.as_str(),
        id = esc(&a.id),
        badge = severity_badge(lang, a.severity),
        what = esc(&what(lang.zh(), &a.rule)),
        place = esc(&place_text(lang.zh(), &a.place)),
        device = esc(device),
        status = status_badge(lang, a.status),
        raised = time(a.raised_at, utc_offset),
        age = age(lang, now, a.raised_at),
    )
}

/// A timeline entry's kind, in words.
fn entry_text(lang: Lang, what: &str) -> String {
    let (zh, en) = match what {
        "raised" => ("报警产生", "Raised"),
        "retriggered" => ("再次触发", "Triggered again"),
        "notified" => ("已通知", "Notified"),
        "escalated" => ("已升级", "Escalated"),
        "acknowledged" => ("已接单", "Acknowledged"),
        "resolved" => ("已处理", "Resolved"),
        "cleared" => ("条件恢复", "Condition cleared"),
        "reopened" => ("重新打开", "Reopened"),
        "delivered" => ("已送达", "Delivered"),
        "delivery_failed" => ("发送失败", "Delivery failed"),
        other => return esc(&other.replace('_', " ")),
    };
    (if lang.zh() { zh } else { en }).to_string()
}

/// `GET /console/alarms/{id}`.
pub async fn alarm(ctx: Ctx, State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    alarm_page(&ctx, &s, &id, None)
}

fn alarm_page(
    ctx: &Ctx,
    s: &ApiState,
    id: &str,
    problem: Option<(StatusCode, String)>,
) -> Response {
    let view = match crate::api::alarms::with_receipts(s, &ctx.viewer, id) {
        Ok(v) => v,
        Err(e) if e.status() == StatusCode::NOT_FOUND => return ctx.not_found(),
        Err(e) => return e.into_response(),
    };
    let a = &view.alarm;
    let (lang, off) = (ctx.lang, s.utc_offset);
    let heading = what(lang.zh(), &a.rule);
    let device = match &a.device_id {
        Some(d) => format!("<a href=\"/console/devices/{0}\">{0}</a>", esc(d)),
        None => esc(a.household.as_deref().unwrap_or("—")),
    };
    let acked = match (&a.acked_by, a.acked_at) {
        (Some(by), Some(at)) => format!("{} · {}", esc(by), time(at, off)),
        _ => "—".into(),
    };
    let resolved = match (&a.resolved_by, a.resolved_at) {
        (Some(by), Some(at)) => format!("{} · {}", esc(by), time(at, off)),
        _ => "—".into(),
    };
    let facts = [
        (T::Where, esc(&place_text(lang.zh(), &a.place))),
        (T::Device, device),
        (T::Raised, time(a.raised_at, off)),
        (T::Count, a.count.to_string()),
        (T::AckedBy, acked),
        (T::StatusResolved, resolved),
        (T::Note, esc(a.note.as_deref().unwrap_or("—"))),
        (
            T::Detail,
            esc(if a.detail.is_empty() {
                "—"
            } else {
                &a.detail
            }),
        ),
    ];
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/\">← {}</a></p>\
         <section class=\"card head sev-{sev}\" data-alarm-id=\"{id}\"><div class=\"bar\"><h1>{badge} {heading}</h1>{status}</div><dl class=\"facts\">",
        ctx.t(T::OpenAlarms),
        sev = a.severity.as_str(),
        id = esc(&a.id),
        badge = severity_badge(lang, a.severity),
        heading = esc(&heading),
        status = status_badge(lang, a.status),
    );
    for (k, v) in facts {
        let _ = write!(body, "<div><dt>{}</dt><dd>{v}</dd></div>", ctx.t(k));
    }
    body.push_str("</dl></section>");
    if let Some((_, message)) = &problem {
        let _ = write!(
            body,
            "<p class=\"problem\" role=\"alert\">{}</p>",
            esc(message)
        );
    }
    if a.status != Handling::Resolved {
        let ack_button = if a.status == Handling::Open {
            format!(
                "<button type=\"submit\" id=\"ack\" formaction=\"/console/alarms/{}/ack\">{}</button>",
                esc(&a.id),
                ctx.t(T::Acknowledge)
            )
        } else {
            String::new()
        };
        let _ = write!(
            body,
            "<form class=\"card act\" method=\"post\" action=\"/console/alarms/{id}/resolve\">{csrf}\
             <label for=\"note\">{note}</label>\
             <textarea id=\"note\" name=\"note\" rows=\"2\" maxlength=\"500\" placeholder=\"{ph}\"></textarea>\
             <div class=\"buttons\">{ack_button}<button type=\"submit\" id=\"resolve\" class=\"secondary\">{resolve}</button></div></form>",
            id = esc(&a.id),
            csrf = ctx.csrf_field(),
            note = ctx.t(T::Note),
            ph = ctx.t(T::NotePlaceholder),
            resolve = ctx.t(T::Resolve),
        );
    }
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2><ol class=\"timeline\" id=\"timeline\">",
        ctx.t(T::Timeline)
    );
    for e in &a.timeline {
        let _ = write!(
            body,
            "<li class=\"ev-{what}\" data-what=\"{what}\">{at}<span class=\"what\">{text}</span>\
             <span class=\"by\">{by}</span><span class=\"detail\">{detail}</span></li>",
            what = esc(&e.what),
            at = time(e.at, off),
            text = entry_text(lang, &e.what),
            by = esc(&e.by),
            detail = esc(&e.detail),
        );
    }
    body.push_str("</ol></section>");
    let status = problem.map_or(StatusCode::OK, |(s, _)| s);
    ctx.page_with(s, status, Nav::Board, &heading, &body)
}

/// The acknowledge / resolve form.
#[derive(Debug, Deserialize)]
pub struct ActForm {
    csrf: String,
    #[serde(default)]
    note: String,
}

/// `POST /console/alarms/{id}/ack`.
pub async fn ack(
    ctx: Ctx,
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    act(ctx, s, id, form, false).await
}

/// `POST /console/alarms/{id}/resolve`.
pub async fn resolve(
    ctx: Ctx,
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Form(form): Form<ActForm>,
) -> Response {
    act(ctx, s, id, form, true).await
}

async fn act(ctx: Ctx, s: ApiState, id: String, form: ActForm, resolve: bool) -> Response {
    if let Some(refused) = ctx.csrf_refusal(&form.csrf) {
        return refused;
    }
    let note = Some(form.note.trim().to_string());
    match crate::api::alarms::act_as(&s, &ctx.viewer, &id, None, note, resolve, "console").await {
        Ok(a) => {
            tracing::info!(alarm_id = %a.id, by = %ctx.viewer.id(), status = %a.status.as_str(), "alarm handled in the console");
            Redirect::to(&format!(
                "/console/alarms/{}",
                crate::notify::percent_encode(&id)
            ))
            .into_response()
        }
        Err(e) if e.status() == StatusCode::NOT_FOUND => ctx.not_found(),
        Err(e) => {
            let message = match e.code() {
                "note_required" => ctx.t(T::NoteRequired).to_string(),
                _ => e.message().to_string(),
            };
            let message = format!("{}: {message}", ctx.t(T::Failed));
            alarm_page(&ctx, &s, &id, Some((e.status(), message)))
        }
    }
}
