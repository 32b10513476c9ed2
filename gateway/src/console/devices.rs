//! Devices: a filterable list, and one device with charts of its recent telemetry.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use linli_protocols::Value;
use serde::Deserialize;

use super::html::{self, Series, esc, select, table, time, time_or_dash};
use super::{Ctx, Lang, Nav, T};
use crate::alarms::place_text;
use crate::api::{ApiError, ApiState, Viewer};
use crate::store::{DeviceRecord, DeviceState, Store, StoreError, TimeRange};

/// Rows shown at most on the list.
const MAX_ROWS: usize = 500;
/// How far back the device page looks.
const WINDOW_MS: u64 = 24 * 3_600 * 1_000;
/// Points per chart at most (a longer series is thinned evenly).
const MAX_POINTS: usize = 600;
/// Charts per device at most.
const MAX_CHARTS: usize = 6;

/// The list's filters; an empty value means "all".
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Filter {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    building: String,
    #[serde(default)]
    state: String,
}

fn building(d: &DeviceRecord) -> Option<&str> {
    d.location.as_ref().and_then(|l| l.building.as_deref())
}

fn state_badge(lang: Lang, state: DeviceState) -> String {
    let text = match state {
        DeviceState::Online => T::Online,
        DeviceState::Offline => T::Offline,
    };
    format!(
        "<span class=\"state {}\">{}</span>",
        state.as_str(),
        lang.t(text)
    )
}

fn location(lang: Lang, d: &DeviceRecord) -> String {
    if d.location.is_none() {
        return "—".into();
    }
    esc(&place_text(lang.zh(), &crate::rules::place_of(d)))
}

fn battery(d: &DeviceRecord) -> String {
    d.battery_pct.map_or_else(
        || "—".into(),
        |b| {
            let low = if b < 20.0 { " low" } else { "" };
            format!("<span class=\"battery{low}\">{b:.0}%</span>")
        },
    )
}

fn last_values(d: &DeviceRecord) -> String {
    d.last_values
        .iter()
        .take(4)
        .map(|(k, v)| {
            format!(
                "<span class=\"kv\">{}&nbsp;<b>{}</b></span>",
                esc(k),
                esc(&html::value(v))
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// What the device list shows, from one pass over the devices the viewer sees: the filter's
/// choices, how many match, and the first [`MAX_ROWS`] of them (never every record at once).
#[derive(Debug, Default)]
struct Listing {
    kinds: BTreeSet<String>,
    buildings: BTreeSet<String>,
    matching: usize,
    shown: Vec<DeviceRecord>,
}

impl Listing {
    fn read(store: &Store, viewer: &Viewer, f: &Filter) -> Result<Listing, StoreError> {
        let mut l = Listing::default();
        for d in store.devices() {
            let d = d?;
            if !crate::api::devices::sees(viewer, &d) {
                continue;
            }
            if let Some(k) = d.kind.as_deref().filter(|k| !l.kinds.contains(*k)) {
                l.kinds.insert(k.to_string());
            }
            if let Some(b) = building(&d).filter(|b| !l.buildings.contains(*b)) {
                l.buildings.insert(b.to_string());
            }
            let wanted = (f.kind.is_empty() || d.kind.as_deref() == Some(f.kind.as_str()))
                && (f.building.is_empty() || building(&d) == Some(f.building.as_str()))
                && (f.state.is_empty() || d.state.as_str() == f.state);
            if wanted {
                l.matching += 1;
                if l.shown.len() < MAX_ROWS {
                    l.shown.push(d);
                }
            }
        }
        Ok(l)
    }
}

/// `GET /console/devices?kind=&building=&state=`.
pub async fn list(ctx: Ctx, State(s): State<ApiState>, Query(f): Query<Filter>) -> Response {
    let (store, viewer, filter) = (s.store.clone(), ctx.viewer.clone(), f.clone());
    let read = tokio::task::spawn_blocking(move || Listing::read(&store, &viewer, &filter)).await;
    let listing = match read {
        Ok(Ok(l)) => l,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::bad_request(format!("query aborted: {e}")).into_response(),
    };
    let (lang, off) = (ctx.lang, s.utc_offset);
    let opts = |items: &BTreeSet<String>| -> Vec<(String, String)> {
        items.iter().map(|k| (k.clone(), k.clone())).collect()
    };
    let states = vec![
        ("online".to_string(), ctx.t(T::Online).to_string()),
        ("offline".to_string(), ctx.t(T::Offline).to_string()),
    ];
    let filters = format!(
        "<form class=\"filters card\" method=\"get\">{}{}{}<button type=\"submit\">{}</button><a href=\"/console/devices\">{}</a></form>",
        select(
            "kind",
            ctx.t(T::Kind),
            ctx.t(T::All),
            &opts(&listing.kinds),
            Some(&f.kind)
        ),
        select(
            "building",
            ctx.t(T::Building),
            ctx.t(T::All),
            &opts(&listing.buildings),
            Some(&f.building)
        ),
        select(
            "state",
            ctx.t(T::State),
            ctx.t(T::All),
            &states,
            Some(&f.state)
        ),
        ctx.t(T::Filter),
        ctx.t(T::Clear),
    );
    let rows: Vec<Vec<String>> = listing
        .shown
        .iter()
        .map(|d| {
            vec![
                format!("<a href=\"/console/devices/{0}\">{0}</a>", esc(&d.id)),
                esc(d.kind.as_deref().unwrap_or("—")),
                location(lang, d),
                state_badge(lang, d.state),
                battery(d),
                time_or_dash(d.last_seen, off),
                last_values(d),
            ]
        })
        .collect();
    let headers = [
        ctx.t(T::Device),
        ctx.t(T::Kind),
        ctx.t(T::Where),
        ctx.t(T::State),
        ctx.t(T::Battery),
        ctx.t(T::LastSeen),
        ctx.t(T::LastValues),
    ];
    let list = if rows.is_empty() {
        format!("<p class=\"card empty\">{}</p>", ctx.t(T::NoDevices))
    } else {
        table("devices", &headers, &rows)
    };
    let body = format!(
        "<div class=\"bar\"><h1>{}</h1><span class=\"muted\">{} {} {} {}</span></div>{filters}{list}",
        ctx.t(T::Devices),
        ctx.t(T::Showing),
        rows.len(),
        ctx.t(T::Of),
        listing.matching,
    );
    ctx.page(&s, Nav::Devices, ctx.t(T::Devices), &body)
}

/// `GET /console/devices/{id}`: facts, charts of the last day's numeric telemetry, events.
pub async fn one(ctx: Ctx, State(s): State<ApiState>, Path(id): Path<String>) -> Response {
    let d = match crate::api::devices::known(&s.store, &ctx.viewer, &id).await {
        Ok(d) => d,
        Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => return ctx.not_found(),
        Err(e) => return e.into_response(),
    };
    let from = crate::now_ms().saturating_sub(WINDOW_MS);
    let range = TimeRange {
        from,
        to: u64::MAX,
        after: None,
    };
    let store = s.store.clone();
    let key = id.clone();
    let read = tokio::task::spawn_blocking(move || {
        let samples = store.telemetry(&key, range, crate::api::MAX_LIMIT)?;
        let events = store.events(&key, range, crate::api::MAX_LIMIT)?;
        Ok::<_, crate::store::StoreError>((samples.items, events.items))
    })
    .await;
    let (samples, events) = match read {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => return ApiError::from(e).into_response(),
        Err(e) => return ApiError::bad_request(format!("query aborted: {e}")).into_response(),
    };
    let (lang, off) = (ctx.lang, s.utc_offset);
    let facts = [
        (T::Kind, esc(d.kind.as_deref().unwrap_or("—"))),
        (T::Where, location(lang, &d)),
        (T::State, state_badge(lang, d.state)),
        (T::Battery, battery(&d)),
        (
            T::Signal,
            d.rssi.map_or_else(|| "—".into(), |r| format!("{r} dBm")),
        ),
        (T::LastSeen, time_or_dash(d.last_seen, off)),
        (T::FirstSeen, time(d.first_seen, off)),
        (T::Model, esc(d.model.as_deref().unwrap_or("—"))),
        (T::Firmware, esc(d.fw.as_deref().unwrap_or("—"))),
        (T::Messages, d.messages.to_string()),
        (T::LastValues, last_values(&d)),
    ];
    let mut body = format!(
        "<p class=\"crumbs\"><a href=\"/console/devices\">← {}</a></p>\
         <section class=\"card head\"><div class=\"bar\"><h1>{}</h1></div><dl class=\"facts\">",
        ctx.t(T::Devices),
        esc(&d.id)
    );
    for (k, v) in facts {
        let _ = write!(body, "<div><dt>{}</dt><dd>{v}</dd></div>", ctx.t(k));
    }
    body.push_str("</dl></section>");
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2>",
        ctx.t(T::Telemetry)
    );
    let series = numeric_series(&samples);
    if series.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", ctx.t(T::NoTelemetry));
    } else {
        body.push_str("<div class=\"charts\">");
        for s in series.iter().take(MAX_CHARTS) {
            body.push_str(&html::chart(s, off));
        }
        body.push_str("</div>");
    }
    body.push_str("</section>");
    let _ = write!(
        body,
        "<section class=\"card\"><h2>{}</h2>",
        ctx.t(T::Events)
    );
    if events.is_empty() {
        let _ = write!(body, "<p class=\"muted\">{}</p>", ctx.t(T::NoEvents));
    } else {
        let rows: Vec<Vec<String>> = events
            .iter()
            .rev()
            .take(20)
            .map(|e| {
                let data = e
                    .data
                    .iter()
                    .map(|(k, v)| format!("{}={}", esc(k), esc(&html::value(v))))
                    .collect::<Vec<_>>()
                    .join(" ");
                vec![time(e.ts, off), esc(&e.kind), data]
            })
            .collect();
        body.push_str(&table(
            "events",
            &[ctx.t(T::When), ctx.t(T::Kind), ctx.t(T::Detail)],
            &rows,
        ));
    }
    body.push_str("</section>");
    ctx.page(&s, Nav::Devices, &d.id, &body)
}

/// One series per numeric telemetry key, thinned to [`MAX_POINTS`].
fn numeric_series(samples: &[crate::store::Sample]) -> Vec<Series> {
    let mut by_key: BTreeMap<&str, Vec<(u64, f64)>> = BTreeMap::new();
    for sample in samples {
        for (k, v) in &sample.values {
            if let Value::Number(n) = v {
                by_key.entry(k.as_str()).or_default().push((sample.ts, *n));
            }
        }
    }
    by_key
        .into_iter()
        .map(|(name, points)| {
            let step = points.len().div_ceil(MAX_POINTS).max(1);
            let mut thinned: Vec<(u64, f64)> = points.iter().step_by(step).copied().collect();
            if let (Some(last), Some(kept)) = (points.last(), thinned.last()) {
                if kept != last {
                    thinned.push(*last);
                }
            }
            Series {
                name: name.to_string(),
                points: thinned,
            }
        })
        .collect()
}
