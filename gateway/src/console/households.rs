//! Households: seniors living alone, their last activity and wellness state, away mode.

use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::html::{esc, table, time_or_dash};
use super::{Ctx, Nav, T};
use crate::alarms::place_text;
use crate::api::ApiState;

/// `GET /console/households`.
pub async fn list(ctx: Ctx, State(s): State<ApiState>) -> Response {
    let households = match crate::api::households::views(&s, &ctx.viewer) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let (lang, off) = (ctx.lang, s.utc_offset);
    let rows: Vec<Vec<String>> = households
        .iter()
        .map(|h| {
            let wellness = match (h.inactive, h.low_water) {
                (true, _) => format!("<span class=\"pill bad\">{}</span>", ctx.t(T::Inactive)),
                (_, true) => format!("<span class=\"pill warn\">{}</span>", ctx.t(T::LowWater)),
                _ => format!("<span class=\"pill ok\">{}</span>", ctx.t(T::Normal)),
            };
            let away = match h.away_until {
                Some(until) => format!(
                    "<span class=\"pill info\">{} {}</span>",
                    ctx.t(T::AwayUntil),
                    time_or_dash(Some(until), off)
                ),
                None => "—".into(),
            };
            let id = esc(&h.id);
            let action = |until: &str, text: T, class: &str| {
                format!(
                    "<form method=\"post\" action=\"/console/households/{id}/away\">{}\
                     <input type=\"hidden\" name=\"hours\" value=\"{until}\">\
                     <button type=\"submit\" class=\"{class}\">{}</button></form>",
                    ctx.csrf_field(),
                    ctx.t(text)
                )
            };
            let actions = if h.away_until.is_some() {
                action("0", T::AwayOff, "secondary")
            } else {
                format!(
                    "{}{}",
                    action("24", T::AwayOn24, "secondary"),
                    action("72", T::AwayOn72, "secondary")
                )
            };
            vec![
                format!("<strong>{id}</strong>"),
                esc(&place_text(lang.zh(), &h.place)),
                ctx.t(if h.living_alone { T::Yes } else { T::No })
                    .to_string(),
                h.residents
                    .as_ref()
                    .map_or_else(|| "—".into(), |r| esc(&r.join("、"))),
                time_or_dash(h.last_activity, off),
                wellness,
                away,
                format!("<div class=\"row-actions\">{actions}</div>"),
            ]
        })
        .collect();
    let list = if rows.is_empty() {
        format!("<p class=\"card empty\">{}</p>", ctx.t(T::NoHouseholds))
    } else {
        table(
            "households",
            &[
                ctx.t(T::Household),
                ctx.t(T::Where),
                ctx.t(T::LivingAlone),
                ctx.t(T::Residents),
                ctx.t(T::LastActivity),
                ctx.t(T::Wellness),
                ctx.t(T::Away),
                "",
            ],
            &rows,
        )
    };
    let body = format!(
        "<div class=\"bar\"><h1>{}</h1></div>{list}",
        ctx.t(T::Households)
    );
    ctx.page(&s, Nav::Households, ctx.t(T::Households), &body)
}

/// The away-mode form: hours from now, 0 to switch it off.
#[derive(Debug, Deserialize)]
pub struct AwayForm {
    csrf: String,
    hours: u64,
}

/// `POST /console/households/{id}/away`.
pub async fn away(
    ctx: Ctx,
    State(s): State<ApiState>,
    Path(id): Path<String>,
    Form(form): Form<AwayForm>,
) -> Response {
    if let Some(refused) = ctx.csrf_refusal(&form.csrf) {
        return refused;
    }
    let until = (form.hours > 0)
        .then(|| crate::now_ms().saturating_add(form.hours.min(24 * 90) * 3_600_000));
    match crate::api::households::set_away(&s, &ctx.viewer, &id, until).await {
        Ok(_) => {
            tracing::info!(household = %id, by = %ctx.viewer.id(), until = ?until, "away mode set in the console");
            Redirect::to("/console/households").into_response()
        }
        Err(e) if e.status() == StatusCode::NOT_FOUND => ctx.not_found(),
        Err(e) => ctx.error(e.status(), T::Failed, e.message()),
    }
}
