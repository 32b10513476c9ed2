//! Devices, their telemetry and events, and rejected payloads.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};

use super::auth::Viewer;
use super::{ApiError, ApiState, limit};
use crate::store::{DeviceRecord, Page, Store, TimeRange};

/// `GET /api/v1/devices` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceQuery {
    kind: Option<String>,
    building: Option<String>,
    state: Option<String>,
    placed: Option<bool>,
    limit: Option<usize>,
    after: Option<String>,
}

/// A device as the API shows it.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    #[serde(flatten)]
    device: DeviceRecord,
    /// True once it has a location.
    placed: bool,
}

impl From<DeviceRecord> for DeviceView {
    fn from(device: DeviceRecord) -> Self {
        DeviceView {
            placed: device.location.is_some(),
            device,
        }
    }
}

pub async fn list(
    State(s): State<ApiState>,
    viewer: Viewer,
    q: Result<Query<DeviceQuery>, QueryRejection>,
) -> Result<Json<Page<DeviceView>>, ApiError> {
    let Query(q) = q?;
    let limit = limit(q.limit)?;
    if let Some(state) = &q.state {
        if !["online", "offline"].contains(&state.as_str()) {
            return Err(ApiError::bad_request(format!(
                "state `{state}` is not online or offline"
            )));
        }
    }
    let store = s.store.clone();
    blocking(move || {
        let keep = |d: &DeviceRecord| {
            q.kind
                .as_ref()
                .is_none_or(|k| d.kind.as_deref() == Some(k.as_str()))
                && q.state.as_ref().is_none_or(|st| d.state.as_str() == st)
                && q.placed.is_none_or(|p| d.location.is_some() == p)
                && q.building.as_ref().is_none_or(|b| {
                    d.location.as_ref().and_then(|l| l.building.as_deref()) == Some(b.as_str())
                })
                && sees(&viewer, d)
        };
        let mut items: Vec<DeviceView> = store
            .devices_after(q.after.as_deref())
            .filter(|d| d.as_ref().map_or(true, keep))
            .take(limit + 1)
            .map(|d| d.map(DeviceView::from))
            .collect::<Result<_, _>>()?;
        let next = (items.len() > limit).then(|| {
            items.truncate(limit);
            items.last().map(|d| d.device.id.clone())
        });
        Ok(Page {
            items,
            next: next.flatten(),
        })
    })
    .await
}

/// True when the viewer may see the device.
pub(crate) fn sees(viewer: &Viewer, d: &DeviceRecord) -> bool {
    viewer.sees(
        d.kind.as_deref().unwrap_or("unknown"),
        &crate::rules::place_of(d),
    )
}

pub async fn one(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<DeviceView>, ApiError> {
    known(&s.store, &viewer, &id).await.map(|d| Json(d.into()))
}

/// Time-series filters: `from` / `to` in ms since the epoch (inclusive).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeriesQuery {
    from: Option<u64>,
    to: Option<u64>,
    limit: Option<usize>,
    after: Option<String>,
}

impl SeriesQuery {
    fn range(&self) -> Result<TimeRange, ApiError> {
        let (from, to) = (self.from.unwrap_or(0), self.to.unwrap_or(u64::MAX));
        if from > to {
            return Err(ApiError::bad_request(format!(
                "from {from} is after to {to}"
            )));
        }
        let after = match &self.after {
            None => None,
            Some(a) => Some(TimeRange::parse_cursor(a).ok_or_else(|| {
                ApiError::bad_request(format!("after `{a}` is not a cursor from a previous page"))
            })?),
        };
        Ok(TimeRange { from, to, after })
    }
}

/// A device the viewer may see, or 404.
pub(crate) async fn known(
    store: &Store,
    viewer: &Viewer,
    id: &str,
) -> Result<DeviceRecord, ApiError> {
    match store.device(id)? {
        Some(d) if sees(viewer, &d) => Ok(d),
        _ => Err(ApiError::not_found(format!("no device `{id}`"))),
    }
}

pub async fn telemetry(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    q: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<Page<crate::store::Sample>>, ApiError> {
    let Query(q) = q?;
    let (range, limit) = (q.range()?, limit(q.limit)?);
    known(&s.store, &viewer, &id).await?;
    let store = s.store.clone();
    blocking(move || store.telemetry(&id, range, limit)).await
}

pub async fn events(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    q: Result<Query<SeriesQuery>, QueryRejection>,
) -> Result<Json<Page<crate::store::EventRecord>>, ApiError> {
    let Query(q) = q?;
    let (range, limit) = (q.range()?, limit(q.limit)?);
    known(&s.store, &viewer, &id).await?;
    let store = s.store.clone();
    blocking(move || store.events(&id, range, limit)).await
}

/// `GET /api/v1/rejected` filters.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectedQuery {
    limit: Option<usize>,
    after: Option<u64>,
}

pub async fn rejected(
    State(s): State<ApiState>,
    viewer: Viewer,
    q: Result<Query<RejectedQuery>, QueryRejection>,
) -> Result<Json<Page<crate::store::RejectedRecord>>, ApiError> {
    let Query(q) = q?;
    let limit = limit(q.limit)?;
    if !viewer.sees("*", &Default::default()) {
        return Err(ApiError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "rejected payloads are for roles that see the whole site",
        ));
    }
    let store = s.store.clone();
    blocking(move || store.rejected(q.after.unwrap_or(0), limit)).await
}

/// Runs a store scan off the async workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, crate::store::StoreError> + Send + 'static,
) -> Result<Json<T>, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => Ok(Json(result?)),
        Err(e) => Err(ApiError::bad_request(format!("query aborted: {e}"))),
    }
}
