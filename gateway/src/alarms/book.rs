//! Alarm lifecycle and escalation as pure transitions.

use std::collections::HashMap;

use linli_protocols::{Condition, Handling, Severity, StaffNotification};

use super::{
    Alarm, AuditEntry, Directory, Effects, Entry, Escalation, Notification, Policy, TIMELINE_MAX,
    title,
};
use crate::config::Resolution;
use crate::rules::{Signal, Subject, matches};

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActError {
    /// No open alarm with that id.
    #[error("no open alarm `{0}`")]
    NotOpen(String),
    /// Acknowledged already.
    #[error("alarm `{id}` was already acknowledged by {by}")]
    AlreadyAcknowledged {
        /// The alarm.
        id: String,
        /// By whom.
        by: String,
    },
    /// Care and critical alarms need a note to be resolved.
    #[error("alarm `{0}` needs a note saying what was done to resolve it")]
    NoteRequired(String),
}

/// The open alarms and everything needed to escalate them.
#[derive(Debug)]
pub struct Book {
    open: HashMap<String, Alarm>,
    keys: HashMap<String, String>,
    policies: Vec<Policy>,
    directory: Directory,
    next_id: u64,
}

fn key(rule: &str, subject: &Subject) -> String {
    format!("{rule}|{}", subject.key())
}

fn push(alarm: &mut Alarm, at: u64, what: &str, by: &str, detail: String) {
    if alarm.timeline.len() < TIMELINE_MAX || what != "retriggered" {
        alarm.timeline.push(Entry {
            at,
            what: what.into(),
            by: by.into(),
            detail,
        });
    }
}

fn audit(at: u64, actor: &str, action: &str, alarm: &Alarm, detail: String) -> AuditEntry {
    AuditEntry {
        id: 0,
        at,
        actor: actor.into(),
        action: action.into(),
        alarm_id: Some(alarm.id.clone()),
        detail,
    }
}

impl Book {
    /// A book with the open alarms loaded from the store.
    pub fn new(
        policies: Vec<Policy>,
        directory: Directory,
        open: Vec<Alarm>,
        next_id: u64,
    ) -> Self {
        let keys = open
            .iter()
            .map(|a| (key(&a.rule, &a.subject), a.id.clone()))
            .collect();
        Book {
            open: open.into_iter().map(|a| (a.id.clone(), a)).collect(),
            keys,
            policies,
            directory,
            next_id,
        }
    }

    /// An open (not resolved) alarm.
    pub fn get(&self, id: &str) -> Option<&Alarm> {
        self.open.get(id)
    }

    /// The staff directory.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }

    /// Open alarms.
    pub fn open(&self) -> impl Iterator<Item = &Alarm> {
        self.open.values()
    }

    /// The next alarm id this book will assign.
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    fn policy(&self, a: &Alarm) -> Policy {
        self.policies
            .iter()
            .find(|p| p.covers(&a.class, a.severity))
            .cloned()
            .unwrap_or_else(|| Policy::fallback(a.severity))
    }

    /// Applies a rule signal.
    pub fn signal(&mut self, s: &Signal, now: u64) -> Effects {
        let mut fx = Effects::default();
        let k = key(&s.rule, &s.subject);
        let existing = self.keys.get(&k).cloned();
        match (existing, s.raise) {
            (Some(id), true) => {
                let Some(a) = self.open.get_mut(&id) else {
                    return fx;
                };
                a.count += 1;
                a.last_at = now;
                a.detail.clone_from(&s.detail);
                a.severity = a.severity.min(s.severity);
                if a.condition == Condition::Cleared {
                    a.condition = Condition::Active;
                    push(a, now, "reactivated", "system", s.detail.clone());
                    fx.audit
                        .push(audit(now, "system", "reactivated", a, s.detail.clone()));
                } else {
                    push(a, now, "retriggered", "system", s.detail.clone());
                }
                fx.alarms.push(a.clone());
            }
            (None, true) => {
                let id = self.next_id.to_string();
                self.next_id += 1;
                let mut a = Alarm {
                    id: id.clone(),
                    rule: s.rule.clone(),
                    subject: s.subject.clone(),
                    device_id: match &s.subject {
                        Subject::Device(d) => Some(d.clone()),
                        Subject::Household(_) => None,
                    },
                    household: s.household.clone(),
                    class: s.class.clone(),
                    place: s.place.clone(),
                    severity: s.severity,
                    status: Handling::Open,
                    condition: Condition::Active,
                    resolution: s.resolution,
                    raised_at: now,
                    last_at: now,
                    count: 1,
                    detail: s.detail.clone(),
                    acked_by: None,
                    acked_at: None,
                    resolved_by: None,
                    resolved_at: None,
                    note: None,
                    escalation: Escalation {
                        round: 0,
                        round_at: now,
                        step: 0,
                        repeats: 0,
                        next_at: None,
                    },
                    timeline: Vec::new(),
                };
                let policy = self.policy(&a);
                a.escalation.next_at = policy.steps.first().map(|st| now + st.after_ms);
                push(&mut a, now, "raised", "system", s.detail.clone());
                fx.audit.push(audit(
                    now,
                    "system",
                    "raised",
                    &a,
                    format!("{} {}: {}", s.severity, s.rule, s.detail),
                ));
                self.keys.insert(k, id.clone());
                self.open.insert(id.clone(), a);
                // A first step due now goes out with the raise itself: no tick of delay.
                fx.extend(self.escalate(&id, now));
                if let Some(a) = self.open.get(&id) {
                    fx.alarms.retain(|x| x.id != id);
                    fx.alarms.push(a.clone());
                }
            }
            (Some(id), false) => {
                let Some(a) = self.open.get_mut(&id) else {
                    return fx;
                };
                if a.condition == Condition::Cleared {
                    return fx;
                }
                a.condition = Condition::Cleared;
                push(a, now, "cleared", "system", s.detail.clone());
                fx.audit
                    .push(audit(now, "system", "cleared", a, s.detail.clone()));
                if a.resolution == Resolution::Auto {
                    let a = self.close(
                        &id,
                        now,
                        "system",
                        Some("condition cleared".into()),
                        &mut fx,
                    );
                    fx.alarms.extend(a);
                } else {
                    fx.alarms.push(a.clone());
                }
            }
            (None, false) => {}
        }
        fx
    }

    fn close(
        &mut self,
        id: &str,
        now: u64,
        by: &str,
        note: Option<String>,
        fx: &mut Effects,
    ) -> Option<Alarm> {
        let mut a = self.open.remove(id)?;
        self.keys.remove(&key(&a.rule, &a.subject));
        a.status = Handling::Resolved;
        a.resolved_by = Some(by.into());
        a.resolved_at = Some(now);
        a.escalation.next_at = None;
        let detail = note.clone().unwrap_or_default();
        a.note = note.or(a.note.take());
        push(&mut a, now, "resolved", by, detail.clone());
        fx.audit.push(audit(now, by, "resolved", &a, detail));
        Some(a)
    }

    /// A person acknowledges (`resolve = false`) or resolves an alarm. `via` says how (`api`, `mqtt`).
    pub fn act(
        &mut self,
        id: &str,
        resolve: bool,
        by: &str,
        note: Option<String>,
        via: &str,
        now: u64,
    ) -> Result<Effects, ActError> {
        let mut fx = Effects::default();
        let a = self
            .open
            .get_mut(id)
            .ok_or_else(|| ActError::NotOpen(id.into()))?;
        let note = note.filter(|n| !n.trim().is_empty());
        if resolve {
            let needs_note = matches("care.*", &a.class) || a.severity == Severity::Critical;
            if needs_note && note.is_none() {
                return Err(ActError::NoteRequired(id.into()));
            }
            let detail = format!("via {via}");
            if let Some(a) = self.close(id, now, by, note, &mut fx) {
                if let Some(last) = fx.audit.last_mut() {
                    last.detail = format!("{} ({detail})", last.detail);
                }
                fx.alarms.push(a);
            }
            return Ok(fx);
        }
        if a.status == Handling::Acknowledged {
            return Err(ActError::AlreadyAcknowledged {
                id: id.into(),
                by: a.acked_by.clone().unwrap_or_default(),
            });
        }
        a.status = Handling::Acknowledged;
        a.acked_by = Some(by.into());
        a.acked_at = Some(now);
        if note.is_some() {
            a.note.clone_from(&note);
        }
        let ack_timeout = self
            .policies
            .iter()
            .find(|p| p.covers(&a.class, a.severity))
            .map_or_else(
                || Policy::fallback(a.severity).ack_timeout_ms,
                |p| p.ack_timeout_ms,
            );
        a.escalation.next_at = Some(now + ack_timeout);
        let detail = format!(
            "via {via}{}",
            note.map(|n| format!(": {n}")).unwrap_or_default()
        );
        push(a, now, "acknowledged", by, detail.clone());
        fx.audit.push(audit(now, by, "acknowledged", a, detail));
        fx.alarms.push(a.clone());
        Ok(fx)
    }

    /// Fires every escalation step, repeat and acknowledgement timeout due at `now`.
    pub fn tick(&mut self, now: u64) -> Effects {
        let due: Vec<String> = self
            .open
            .values()
            .filter(|a| a.escalation.next_at.is_some_and(|t| t <= now))
            .map(|a| a.id.clone())
            .collect();
        let mut fx = Effects::default();
        for id in due {
            let mut step_fx = self.escalate(&id, now);
            if let Some(a) = self.open.get(&id) {
                step_fx.alarms = vec![a.clone()];
            }
            fx.extend(step_fx);
        }
        fx
    }

    fn escalate(&mut self, id: &str, now: u64) -> Effects {
        let mut fx = Effects::default();
        let Some(a) = self.open.get(id) else {
            return fx;
        };
        let policy = self.policy(a);
        let Some(a) = self.open.get_mut(id) else {
            return fx;
        };
        if a.status == Handling::Acknowledged {
            if a.escalation.next_at.is_some_and(|t| t <= now) {
                // Taken but not resolved in time: it is nobody's again, and escalation restarts.
                a.status = Handling::Open;
                a.acked_by = None;
                a.acked_at = None;
                a.escalation = Escalation {
                    round: a.escalation.round + 1,
                    round_at: now,
                    step: 0,
                    repeats: 0,
                    next_at: policy.steps.first().map(|s| now + s.after_ms),
                };
                push(
                    a,
                    now,
                    "ack_timeout",
                    "system",
                    "acknowledged but not resolved in time".into(),
                );
                fx.audit
                    .push(audit(now, "system", "ack_timeout", a, String::new()));
            } else {
                return fx;
            }
        }
        // Bounded: each pass fires one step or one repeat and moves `next_at` forward.
        for _ in 0..=policy.steps.len() {
            let Some(next_at) = a.escalation.next_at.filter(|&t| t <= now) else {
                break;
            };
            let step = a.escalation.step as usize;
            let Some(st) = policy
                .steps
                .get(step.min(policy.steps.len().saturating_sub(1)))
            else {
                break;
            };
            let mut told: Vec<String> = Vec::new();
            for t in &st.targets {
                for s in self.directory.resolve(t, &a.class, &a.place) {
                    if !told.contains(&s) {
                        told.push(s);
                    }
                }
            }
            let repeat = a.escalation.repeats;
            for staff_id in &told {
                let lang = self
                    .directory
                    .person(staff_id)
                    .map_or("zh-CN", |p| p.lang.as_str());
                fx.notifications.push(Notification {
                    staff_id: staff_id.clone(),
                    body: StaffNotification {
                        key: format!(
                            "{}:{}:{}:{}:{}",
                            a.id, a.escalation.round, step, repeat, staff_id
                        ),
                        alarm_id: a.id.clone(),
                        rule: a.rule.clone(),
                        class: a.class.clone(),
                        severity: a.severity,
                        title: title(lang, a.severity, &a.rule, &a.place),
                        place: a.place.clone(),
                        device_id: a.device_id.clone(),
                        household: a.household.clone(),
                        raised_at: a.raised_at,
                        step: step as u32,
                        also_told: told.iter().filter(|t| *t != staff_id).cloned().collect(),
                    },
                });
            }
            let what = if told.is_empty() {
                "no one to notify".to_string()
            } else {
                told.join(", ")
            };
            let label = if repeat > 0 {
                format!("step {step} (repeat {repeat})")
            } else {
                format!("step {step}")
            };
            push(a, now, "notified", "system", format!("{label}: {what}"));
            fx.audit.push(audit(
                now,
                "system",
                "escalated",
                a,
                format!("{label}: {what} (late {} ms)", now - next_at),
            ));
            fx.escalated.push(step as u32);
            if step + 1 < policy.steps.len() {
                a.escalation.step += 1;
                a.escalation.next_at =
                    Some(a.escalation.round_at + policy.steps[step + 1].after_ms);
            } else {
                a.escalation.repeats += 1;
                a.escalation.next_at = policy.repeat_ms.map(|r| now.max(next_at) + r);
                break;
            }
        }
        fx
    }
}
