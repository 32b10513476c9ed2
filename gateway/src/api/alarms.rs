//! Alarms: list, one with its timeline, acknowledge, resolve, a live stream; and the audit trail.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use linli_protocols::{Handling, Severity};
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, oneshot};

use super::auth::Viewer;
use super::{ApiError, ApiState, limit};
use crate::alarms::{ActError, Alarm, AuditEntry, Entry};
use crate::notify::receipt_line;
use crate::pipeline::{Command, CommandError};
use crate::store::{AlarmFilter, Page, Receipt, Store, StoreError};

/// `GET /api/v1/alarms` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmQuery {
    status: Option<Handling>,
    severity: Option<Severity>,
    after: Option<u64>,
    limit: Option<usize>,
}

pub async fn list(
    State(s): State<ApiState>,
    viewer: Viewer,
    q: Result<Query<AlarmQuery>, QueryRejection>,
) -> Result<Json<Page<Alarm>>, ApiError> {
    let Query(q) = q?;
    let limit = limit(q.limit)?;
    let filter = AlarmFilter {
        status: q.status,
        severity: q.severity,
        after: q.after.unwrap_or(0),
    };
    let store = s.store.clone();
    let page = tokio::task::spawn_blocking(move || {
        store.alarms(&filter, limit, |a| viewer.sees(&a.class, &a.place))
    })
    .await
    .map_err(|e| ApiError::bad_request(format!("query aborted: {e}")))??;
    Ok(Json(page))
}

/// An alarm the viewer may see, or 404 (never 403: ids do not leak).
pub(crate) fn visible(s: &ApiState, viewer: &Viewer, id: &str) -> Result<Alarm, ApiError> {
    match s.store.alarm(id)? {
        Some(a) if viewer.sees(&a.class, &a.place) => Ok(a),
        _ => Err(ApiError::not_found(format!("no alarm `{id}`"))),
    }
}

/// An alarm with its delivery receipts, which are also merged into its timeline. Receipts live
/// in their own key range, written by the notifier, so they never race the pipeline worker that
/// owns the alarm record.
#[derive(Debug, Serialize)]
pub struct AlarmView {
    /// The alarm, with receipts in its timeline.
    #[serde(flatten)]
    pub alarm: Alarm,
    /// Every delivery attempt.
    pub receipts: Vec<Receipt>,
}

pub async fn one(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<AlarmView>, ApiError> {
    with_receipts(&s, &viewer, &id).map(Json)
}

/// An alarm the viewer may see, its delivery receipts merged into its timeline.
pub(crate) fn with_receipts(
    s: &ApiState,
    viewer: &Viewer,
    id: &str,
) -> Result<AlarmView, ApiError> {
    let mut alarm = visible(s, viewer, id)?;
    let receipts = s.store.receipts(id)?;
    alarm.timeline.extend(receipts.iter().map(|r| Entry {
        at: r.at,
        what: match r.result.as_str() {
            "delivered" => "delivered".into(),
            other => format!("delivery_{other}"),
        },
        by: "system".into(),
        detail: receipt_line(r),
    }));
    // Stable: entries of the same millisecond keep their order.
    alarm.timeline.sort_by_key(|e| e.at);
    Ok(AlarmView { alarm, receipts })
}

/// Body of ack and resolve.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActBody {
    /// Who, when the API is open; ignored (the token says who) otherwise.
    by: Option<String>,
    /// What was done.
    note: Option<String>,
}

pub async fn ack(
    s: State<ApiState>,
    viewer: Viewer,
    id: Path<String>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Json<Alarm>, ApiError> {
    act(s, viewer, id, body, false).await
}

pub async fn resolve(
    s: State<ApiState>,
    viewer: Viewer,
    id: Path<String>,
    body: Result<Json<ActBody>, JsonRejection>,
) -> Result<Json<Alarm>, ApiError> {
    act(s, viewer, id, body, true).await
}

async fn act(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Result<Json<ActBody>, JsonRejection>,
    resolve: bool,
) -> Result<Json<Alarm>, ApiError> {
    let Json(body) = body?;
    act_as(&s, &viewer, &id, body.by, body.note, resolve, "api")
        .await
        .map(Json)
}

/// Acknowledges or resolves an alarm the viewer may see, as the viewer (or as `by` when the API
/// is open), through the pipeline worker.
pub(crate) async fn act_as(
    s: &ApiState,
    viewer: &Viewer,
    id: &str,
    by: Option<String>,
    note: Option<String>,
    resolve: bool,
    via: &'static str,
) -> Result<Alarm, ApiError> {
    let alarm = visible(s, viewer, id)?;
    let by = match viewer {
        Viewer::Open => by
            .filter(|b| !b.trim().is_empty())
            .unwrap_or_else(|| "anonymous".into()),
        Viewer::Staff(p, _) => p.id.clone(),
    };
    let (reply, answer) = oneshot::channel();
    let command = Command::Act {
        alarm_id: id.to_string(),
        resolve,
        by,
        note: note.filter(|n| !n.trim().is_empty()),
        via,
        reply,
    };
    ask(s, command, answer).await?.map_err(|e| match e {
        CommandError::Act(ActError::NotOpen(_)) if alarm.status == Handling::Resolved => {
            ApiError::new(
                StatusCode::CONFLICT,
                "resolved",
                format!("alarm `{id}` is already resolved"),
            )
        }
        CommandError::Act(e @ ActError::AlreadyAcknowledged { .. }) => {
            ApiError::new(StatusCode::CONFLICT, "acknowledged", e.to_string())
        }
        CommandError::Act(e @ ActError::NoteRequired(_)) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "note_required",
            e.to_string(),
        ),
        other => ApiError::not_found(other.to_string()),
    })
}

/// Sends a command to the pipeline worker and waits for its answer.
pub async fn ask<T>(
    s: &ApiState,
    command: Command,
    answer: oneshot::Receiver<Result<T, CommandError>>,
) -> Result<Result<T, CommandError>, ApiError> {
    let unavailable = || {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "stopping",
            "the hub is shutting down",
        )
    };
    s.commands.send(command).await.map_err(|_| unavailable())?;
    tokio::time::timeout(Duration::from_secs(10), answer)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "the pipeline did not answer in 10 s",
            )
        })?
        .map_err(|_| unavailable())
}

/// `GET /api/v1/alarms/stream`: server-sent events, one `alarm` event per change the viewer may
/// see, and `notification` events for the viewer's own `console` channel. A listener too slow to
/// keep up gets a `resync` event and should re-read the list.
pub async fn stream(
    State(s): State<ApiState>,
    viewer: Viewer,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let rx = s.changes.subscribe();
    let watch = match &viewer {
        Viewer::Staff(p, _) => Some(s.console.watch(&p.id)),
        Viewer::Open => None,
    };
    let state = (rx, watch, viewer);
    let events = futures_util::stream::unfold(state, |(mut rx, mut watch, viewer)| async move {
        loop {
            let notes = async {
                match watch.as_mut() {
                    Some(w) => Some(w.rx.recv().await),
                    None => std::future::pending().await,
                }
            };
            let event = tokio::select! {
                change = rx.recv() => match change {
                    Ok(a) if viewer.sees(&a.class, &a.place) => Event::default()
                        .event("alarm")
                        .id(a.id.clone())
                        .json_data(&a)
                        .unwrap_or_default(),
                    Ok(_) => continue,
                    Err(broadcast::error::RecvError::Lagged(n)) => {
                        Event::default().event("resync").data(n.to_string())
                    }
                    Err(broadcast::error::RecvError::Closed) => return None,
                },
                Some(note) = notes => match note {
                    Ok(m) if m.staff_id == viewer.id() => {
                        Event::default().event("notification").data(m.json.as_str())
                    }
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => {
                        watch = None;
                        continue;
                    }
                },
            };
            return Some((Ok(event), (rx, watch, viewer)));
        }
    });
    Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// `GET /api/v1/audit` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    after: Option<u64>,
    limit: Option<usize>,
    alarm_id: Option<String>,
    actor: Option<String>,
}

pub async fn audit(
    State(s): State<ApiState>,
    viewer: Viewer,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Page<AuditEntry>>, ApiError> {
    let Query(q) = q?;
    let limit = limit(q.limit)?;
    let store = s.store.clone();
    let page = tokio::task::spawn_blocking(move || {
        audit_page(
            &store,
            &viewer,
            q.after.unwrap_or(0),
            limit,
            q.alarm_id.as_deref(),
            q.actor.as_deref(),
        )
    })
    .await
    .map_err(|e| ApiError::bad_request(format!("query aborted: {e}")))??;
    Ok(Json(page))
}

/// The audit records the viewer may see, oldest first, filtered by alarm and actor. Admin and
/// committee see everything; others the records of alarms they may see, and their own actions.
/// Blocking: a scan of the store.
pub(crate) fn audit_page(
    store: &Store,
    viewer: &Viewer,
    after: u64,
    limit: usize,
    alarm_id: Option<&str>,
    actor: Option<&str>,
) -> Result<Page<AuditEntry>, StoreError> {
    let seen: std::cell::RefCell<HashMap<String, bool>> = Default::default();
    store.audit(after, limit, |e| {
        let wanted = alarm_id.is_none_or(|id| e.alarm_id.as_deref() == Some(id))
            && actor.is_none_or(|a| e.actor == a);
        if !wanted || viewer.sees_all_audit() {
            return wanted;
        }
        match &e.alarm_id {
            Some(id) => *seen.borrow_mut().entry(id.clone()).or_insert_with(|| {
                store
                    .alarm(id)
                    .ok()
                    .flatten()
                    .is_some_and(|a| viewer.sees(&a.class, &a.place))
            }),
            None => e.actor == viewer.id(),
        }
    })
}
