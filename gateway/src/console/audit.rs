//! The audit trail (who did what and when, filterable, newest first) and the integrator's view
//! (rejected payloads with their reasons, devices waiting to be placed).

use std::collections::{BTreeSet, VecDeque};

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::html::{esc, select, table, time};
use super::{Ctx, Nav, T};
use crate::api::{ApiError, ApiState, MAX_LIMIT};

/// Records shown at most, newest first.
const SHOWN: usize = 300;
/// Pages of [`MAX_LIMIT`] read at most, so a page view stays bounded on a huge trail.
const MAX_PAGES: usize = 100;

/// Audit filters; empty means all.
#[derive(Debug, Default, Deserialize)]
pub struct AuditFilter {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    alarm_id: String,
    #[serde(default)]
    action: String,
}

/// `GET /console/audit?actor=&alarm_id=&action=`.
pub async fn audit(ctx: Ctx, State(s): State<ApiState>, Query(f): Query<AuditFilter>) -> Response {
    let (store, viewer) = (s.store.clone(), ctx.viewer.clone());
    let (actor, alarm_id, action) = (f.actor.clone(), f.alarm_id.clone(), f.action.clone());
    let read = tokio::task::spawn_blocking(move || {
        let mut newest = VecDeque::with_capacity(SHOWN);
        let mut actions = BTreeSet::new();
        let mut after = 0;
        for _ in 0..MAX_PAGES {
            let page = crate::api::alarms::audit_page(
                &store,
                &viewer,
                after,
                MAX_LIMIT,
                (!alarm_id.is_empty()).then_some(alarm_id.as_str()),
                (!actor.is_empty()).then_some(actor.as_str()),
            )?;
            after = page.items.last().map_or(after, |e| e.id);
            for e in page.items {
                actions.insert(e.action.clone());
                if action.is_empty() || e.action == action {
                    if newest.len() == SHOWN {
                        newest.pop_front();
                    }
                    newest.push_back(e);
                }
            }
            if page.next.is_none() {
                break;
            }
        }
        Ok::<_, crate::store::StoreError>((newest, actions))
    })
    .await;
    let (entries, actions) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::bad_request(format!("query aborted: {e}")).into_response(),
    };
    let off = s.utc_offset;
    let actions: Vec<(String, String)> = actions.into_iter().map(|a| (a.clone(), a)).collect();
    let filters = format!(
        "<form class=\"filters card\" method=\"get\">\
         <label>{}<input name=\"actor\" value=\"{}\" autocomplete=\"off\"></label>\
         <label>{}<input name=\"alarm_id\" value=\"{}\" inputmode=\"numeric\" autocomplete=\"off\"></label>\
         {}<button type=\"submit\">{}</button><a href=\"/console/audit\">{}</a></form>",
        ctx.t(T::Actor),
        esc(&f.actor),
        ctx.t(T::AlarmId),
        esc(&f.alarm_id),
        select(
            "action",
            ctx.t(T::Action),
            ctx.t(T::All),
            &actions,
            Some(&f.action)
        ),
        ctx.t(T::Filter),
        ctx.t(T::Clear),
    );
    let rows: Vec<Vec<String>> = entries
        .iter()
        .rev()
        .map(|e| {
            let alarm = e.alarm_id.as_deref().map_or_else(
                || "—".into(),
                |id| format!("<a href=\"/console/alarms/{0}\">#{0}</a>", esc(id)),
            );
            vec![
                time(e.at, off),
                format!("<strong>{}</strong>", esc(&e.actor)),
                format!("<span class=\"action\">{}</span>", esc(&e.action)),
                alarm,
                esc(&e.detail),
            ]
        })
        .collect();
    let list = if rows.is_empty() {
        format!("<p class=\"card empty\">{}</p>", ctx.t(T::NoAudit))
    } else {
        table(
            "audit",
            &[
                ctx.t(T::When),
                ctx.t(T::Actor),
                ctx.t(T::Action),
                ctx.t(T::AlarmId),
                ctx.t(T::Detail),
            ],
            &rows,
        )
    };
    let body = format!(
        "<div class=\"bar\"><h1>{}</h1><span class=\"muted\">{}</span></div>{filters}{list}",
        ctx.t(T::Audit),
        ctx.t(T::Newest)
    );
    ctx.page(&s, Nav::Audit, ctx.t(T::Audit), &body)
}

/// `GET /console/integrator`: for roles that see the whole site, like `GET /api/v1/rejected`.
pub async fn integrator(ctx: Ctx, State(s): State<ApiState>) -> Response {
    if !ctx.viewer.sees("*", &Default::default()) {
        return ctx.error(StatusCode::FORBIDDEN, T::Forbidden, ctx.t(T::ForbiddenText));
    }
    let store = s.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        // The rejected list is bounded by the store; keep its newest.
        let mut newest = VecDeque::with_capacity(100);
        let mut after = 0;
        for _ in 0..MAX_PAGES {
            let page = store.rejected(after, MAX_LIMIT)?;
            after = page.items.last().map_or(after, |r| r.id);
            for r in page.items {
                if newest.len() == 100 {
                    newest.pop_front();
                }
                newest.push_back(r);
            }
            if page.next.is_none() {
                break;
            }
        }
        let unplaced: Vec<_> = store
            .devices()
            .filter(|d| d.as_ref().map_or(true, |d| d.location.is_none()))
            .collect::<Result<_, _>>()?;
        Ok::<_, crate::store::StoreError>((newest, unplaced))
    })
    .await;
    let (rejected, unplaced) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::bad_request(format!("query aborted: {e}")).into_response(),
    };
    let off = s.utc_offset;
    let unplaced_rows: Vec<Vec<String>> = unplaced
        .iter()
        .map(|d| {
            vec![
                format!("<a href=\"/console/devices/{0}\">{0}</a>", esc(&d.id)),
                esc(d.kind.as_deref().unwrap_or("—")),
                time(d.first_seen, off),
                d.last_seen.map_or_else(|| "—".into(), |t| time(t, off)),
            ]
        })
        .collect();
    let rejected_rows: Vec<Vec<String>> = rejected
        .iter()
        .rev()
        .map(|r| {
            let payload: String = r.payload.chars().take(160).collect();
            vec![
                time(r.at, off),
                format!("<code>{}</code>", esc(&r.topic)),
                format!(
                    "<span class=\"pill bad\">{}</span> {}",
                    esc(&r.reason),
                    esc(&r.detail)
                ),
                format!("<code class=\"payload\">{}</code>", esc(&payload)),
            ]
        })
        .collect();
    let section = |title: T, empty: T, headers: &[&str], rows: &[Vec<String>]| {
        let content = if rows.is_empty() {
            format!("<p class=\"muted\">{}</p>", ctx.t(empty))
        } else {
            table("", headers, rows)
        };
        format!(
            "<section class=\"card\"><h2>{}</h2>{content}</section>",
            ctx.t(title)
        )
    };
    let body = format!(
        "<div class=\"bar\"><h1>{}</h1></div>{}{}",
        ctx.t(T::Integrator),
        section(
            T::Unplaced,
            T::NoUnplaced,
            &[
                ctx.t(T::Device),
                ctx.t(T::Kind),
                ctx.t(T::FirstSeen),
                ctx.t(T::LastSeen)
            ],
            &unplaced_rows
        ),
        section(
            T::Rejected,
            T::NoRejected,
            &[
                ctx.t(T::When),
                ctx.t(T::Topic),
                ctx.t(T::Reason),
                ctx.t(T::Payload)
            ],
            &rejected_rows
        ),
    );
    ctx.page(&s, Nav::Integrator, ctx.t(T::Integrator), &body)
}
