//! Households: who lives alone, when they were last active, away mode.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use linli_protocols::Place;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::alarms::ask;
use super::auth::Viewer;
use super::{ApiError, ApiState};
use crate::config::Config;
use crate::pipeline::Command;
use crate::rules::HouseholdSnapshot;
use crate::store::Page;

/// A configured household.
#[derive(Debug, Clone)]
pub struct HouseholdInfo {
    id: String,
    place: Place,
    living_alone: bool,
    residents: Vec<String>,
    devices: Vec<String>,
}

/// From `[[household]]`.
pub fn from_config(config: &Config) -> Arc<Vec<HouseholdInfo>> {
    Arc::new(
        config
            .households
            .iter()
            .map(|h| HouseholdInfo {
                id: h.id.clone(),
                place: h.location.as_ref().map_or_else(Place::default, |l| Place {
                    building: l.building.clone(),
                    unit: l.unit.clone(),
                    floor: l.floor,
                    room: l.room.clone(),
                }),
                living_alone: h.living_alone,
                residents: h.residents.clone(),
                devices: h.devices.clone(),
            })
            .collect(),
    )
}

/// A household as the API shows it.
#[derive(Debug, Serialize)]
pub struct HouseholdView {
    /// Household id.
    pub id: String,
    /// Where.
    pub place: Place,
    /// A senior living alone.
    pub living_alone: bool,
    /// Only for roles that need names (PIPL).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub residents: Option<Vec<String>>,
    /// Its devices.
    pub devices: Vec<String>,
    /// Last sign of activity, ms.
    pub last_activity: Option<u64>,
    /// Away mode until, ms.
    pub away_until: Option<u64>,
    /// An inactivity alarm is raised.
    pub inactive: bool,
    /// A low-water alarm is raised.
    pub low_water: bool,
}

fn view(h: &HouseholdInfo, state: Option<&HouseholdSnapshot>, viewer: &Viewer) -> HouseholdView {
    HouseholdView {
        id: h.id.clone(),
        place: h.place.clone(),
        living_alone: h.living_alone,
        residents: viewer.sees_residents().then(|| h.residents.clone()),
        devices: h.devices.clone(),
        last_activity: state.map(|s| s.last_activity).filter(|&t| t > 0),
        away_until: state.and_then(|s| s.away_until),
        inactive: state.is_some_and(|s| s.inactive),
        low_water: state.is_some_and(|s| s.low_water),
    }
}

pub async fn list(
    State(s): State<ApiState>,
    viewer: Viewer,
) -> Result<Json<Page<HouseholdView>>, ApiError> {
    let items = views(&s, &viewer)?;
    Ok(Json(Page { items, next: None }))
}

/// The households the viewer may see.
pub(crate) fn views(s: &ApiState, viewer: &Viewer) -> Result<Vec<HouseholdView>, ApiError> {
    let states = s.store.households()?;
    Ok(s.households
        .iter()
        .filter(|h| viewer.sees("care.household", &h.place))
        .map(|h| view(h, states.iter().find(|x| x.id == h.id), viewer))
        .collect())
}

/// Body of `POST /api/v1/households/{id}/away`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwayBody {
    /// Away until this time (ms since the epoch); `null` switches away mode off.
    until: Option<u64>,
}

pub async fn away(
    State(s): State<ApiState>,
    viewer: Viewer,
    Path(id): Path<String>,
    body: Result<Json<AwayBody>, JsonRejection>,
) -> Result<Json<HouseholdView>, ApiError> {
    let Json(body) = body?;
    set_away(&s, &viewer, &id, body.until).await.map(Json)
}

/// Switches away mode of a household the viewer may see on (until `until`) or off.
pub(crate) async fn set_away(
    s: &ApiState,
    viewer: &Viewer,
    id: &str,
    until: Option<u64>,
) -> Result<HouseholdView, ApiError> {
    let Some(h) = s
        .households
        .iter()
        .find(|h| h.id == id && viewer.sees("care.household", &h.place))
    else {
        return Err(ApiError::not_found(format!("no household `{id}`")));
    };
    if until.is_some_and(|u| u <= crate::now_ms()) {
        return Err(ApiError::bad_request(
            "`until` is in the past; send null to switch away mode off",
        ));
    }
    let (reply, answer) = oneshot::channel();
    let command = Command::Away {
        household: id.to_string(),
        until,
        by: viewer.id().to_string(),
        reply,
    };
    let state = ask(s, command, answer)
        .await?
        .map_err(|e| ApiError::not_found(e.to_string()))?;
    Ok(view(h, Some(&state), viewer))
}
