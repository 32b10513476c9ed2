//! HTTP: health, metrics and the read API. It reads the store; it never drives the pipeline.

mod ack;
pub(crate) mod alarms;
mod auth;
pub(crate) mod devices;
mod error;
pub(crate) mod households;

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

pub use error::ApiError;

pub use auth::{Auth, Viewer};

use crate::alarms::Alarm;
use crate::config::Config;
use crate::ingest::Session;
use crate::metrics::Metrics;
use crate::notify::{Console, LinkKey};
use crate::pipeline::Command;
use crate::store::Store;

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The store, read-only here.
    pub store: Store,
    /// Metrics to render.
    pub metrics: Metrics,
    /// MQTT readiness.
    pub session: Arc<Session>,
    /// Requests to the pipeline worker (acknowledge, resolve, away mode).
    pub commands: tokio::sync::mpsc::Sender<Command>,
    /// Alarm changes, for the live stream.
    pub changes: tokio::sync::broadcast::Sender<Alarm>,
    /// Tokens and visibility.
    pub auth: Arc<Auth>,
    /// Configured households.
    pub households: Arc<Vec<households::HouseholdInfo>>,
    /// Checks acknowledgement links.
    pub link: Arc<LinkKey>,
    /// Notifications for open consoles.
    pub console: Console,
    /// The site's offset from UTC, seconds, for times on pages.
    pub utc_offset: i32,
    /// The site's name, for page headings.
    pub site_name: Arc<str>,
    /// Console sign-ins; the API accepts their cookie too.
    pub sessions: Arc<crate::console::Sessions>,
}

impl ApiState {
    /// Everything the API needs.
    // Each argument is a distinct handle shared with another stage; a builder would add nothing.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        config: &Config,
        store: Store,
        metrics: Metrics,
        session: Arc<Session>,
        commands: tokio::sync::mpsc::Sender<Command>,
        changes: tokio::sync::broadcast::Sender<Alarm>,
        link: Arc<LinkKey>,
        console: Console,
    ) -> Self {
        let auth = Arc::new(Auth::new(config));
        if auth.is_open() {
            tracing::warn!(listen = %config.http.listen, "no [[staff]] configured: the API is open to anyone who can reach it");
        }
        ApiState {
            store,
            metrics,
            session,
            commands,
            changes,
            auth,
            households: households::from_config(config),
            link,
            console,
            utc_offset: crate::config::parse_utc_offset(&config.site.utc_offset)
                .unwrap_or(8 * 3_600),
            site_name: config
                .site
                .name
                .clone()
                .unwrap_or_else(|| config.site.id.clone())
                .into(),
            sessions: Arc::default(),
        }
    }
}

/// Default and largest page sizes of list endpoints.
pub const DEFAULT_LIMIT: usize = 1_000;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 10_000;

/// The router.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .route("/api/v1/devices", get(devices::list))
        .route("/api/v1/devices/{id}", get(devices::one))
        .route("/api/v1/devices/{id}/telemetry", get(devices::telemetry))
        .route("/api/v1/devices/{id}/events", get(devices::events))
        .route("/api/v1/rejected", get(devices::rejected))
        .route("/api/v1/alarms", get(alarms::list))
        .route("/api/v1/alarms/stream", get(alarms::stream))
        .route("/api/v1/alarms/{id}", get(alarms::one))
        .route("/api/v1/alarms/{id}/ack", post(alarms::ack))
        .route("/api/v1/alarms/{id}/resolve", post(alarms::resolve))
        .route("/api/v1/audit", get(alarms::audit))
        .route("/api/v1/households", get(households::list))
        .route("/api/v1/households/{id}/away", post(households::away))
        .route("/ack/{token}", get(ack::page_get).post(ack::confirm))
        .merge(crate::console::routes())
        .fallback(|| async {
            ApiError::not_found("no such endpoint; see /api/v1/devices, /api/v1/rejected")
        })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .with_state(state)
}

async fn healthz(State(s): State<ApiState>) -> impl IntoResponse {
    if s.session.subscribed.load(Ordering::Acquire) {
        (
            StatusCode::OK,
            Json(json!({ "status": "ok", "store": "open", "mqtt": "subscribed" })),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "status": "unavailable",
                "not_ready": ["mqtt"],
                "message": "not subscribed to the broker yet",
            })),
        )
    }
}

async fn metrics(State(s): State<ApiState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
}

/// Checks a `limit` parameter.
pub fn limit(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n @ 1..=MAX_LIMIT) => Ok(n),
        Some(n) => Err(ApiError::bad_request(format!(
            "limit {n} is outside 1..={MAX_LIMIT}"
        ))),
    }
}
