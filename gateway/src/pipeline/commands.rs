//! Requests from the API and staff apps to the worker that owns the alarm book.

use tokio::sync::oneshot;
use tracing::info;

use super::Pipeline;
use crate::alarms::{ActError, Alarm, AuditEntry, Book, Effects};
use crate::rules::HouseholdSnapshot;
use crate::store::{StoreError, WriteSet};

/// A request to the pipeline worker.
#[derive(Debug)]
pub enum Command {
    /// Acknowledge or resolve an alarm.
    Act {
        /// Alarm id.
        alarm_id: String,
        /// Resolve (true) or acknowledge.
        resolve: bool,
        /// Staff id (or `anonymous` with no staff configured).
        by: String,
        /// Note.
        note: Option<String>,
        /// `api`, `link`, ...
        via: &'static str,
        /// The alarm in its new state.
        reply: oneshot::Sender<Result<Alarm, CommandError>>,
    },
    /// Switch a household's away mode.
    Away {
        /// Household id.
        household: String,
        /// Until (ms), or off.
        until: Option<u64>,
        /// Who.
        by: String,
        /// The household's new state.
        reply: oneshot::Sender<Result<HouseholdSnapshot, CommandError>>,
    },
}

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The alarm book refused.
    #[error(transparent)]
    Act(#[from] ActError),
    /// No such household.
    #[error("no household `{0}`")]
    UnknownHousehold(String),
}

/// Acknowledges or resolves as `staff_id`, who must exist and see the alarm (else: not open, so
/// that ids do not leak).
pub fn act_as(
    book: &mut Book,
    staff_id: &str,
    alarm_id: &str,
    resolve: bool,
    note: Option<String>,
    via: &str,
    now: u64,
) -> Result<Effects, ActError> {
    let allowed = book.get(alarm_id).is_some_and(|a| {
        book.directory()
            .person(staff_id)
            .is_some_and(|p| book.directory().sees(p, &a.class, &a.place))
    });
    if !allowed {
        return Err(ActError::NotOpen(alarm_id.into()));
    }
    book.act(alarm_id, resolve, staff_id, note, via, now)
}

impl Pipeline {
    pub(super) async fn command(&mut self, command: Command) -> Result<(), StoreError> {
        let now = crate::now_ms();
        match command {
            Command::Act {
                alarm_id,
                resolve,
                by,
                note,
                via,
                reply,
            } => match self.book.act(&alarm_id, resolve, &by, note, via, now) {
                Ok(fx) => {
                    let alarm = fx.alarms.last().cloned();
                    self.commit(WriteSet::default(), fx).await?;
                    info!(alarm_id, by, resolve, "alarm handled");
                    let _ = reply.send(alarm.ok_or(CommandError::Act(ActError::NotOpen(alarm_id))));
                }
                Err(e) => {
                    let _ = reply.send(Err(e.into()));
                }
            },
            Command::Away {
                household,
                until,
                by,
                reply,
            } => {
                if !self.engine.set_away(&household, until, now) {
                    let _ = reply.send(Err(CommandError::UnknownHousehold(household)));
                    return Ok(());
                }
                let mut set = WriteSet::default();
                set.audit(AuditEntry {
                    id: 0,
                    at: now,
                    actor: by,
                    action: if until.is_some() {
                        "away_on"
                    } else {
                        "away_off"
                    }
                    .into(),
                    alarm_id: None,
                    detail: format!(
                        "household {household}{}",
                        until.map(|u| format!(" until {u}")).unwrap_or_default()
                    ),
                });
                self.commit(set, Effects::default()).await?;
                let state = self.engine.household(&household);
                let _ = reply.send(state.ok_or(CommandError::UnknownHousehold(household)));
            }
        }
        Ok(())
    }
}
