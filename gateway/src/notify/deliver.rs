//! One delivery attempt and its consequences: delivered (removed), failed (retried later), moved
//! to the person's next channel after `max_age`, or given up after `give_up`.

use std::hash::BuildHasher;
use std::sync::Arc;
use std::time::{Duration, Instant};

use linli_protocols::{Handling, StaffNotification};
use tracing::{debug, warn};

use super::channels::{self, Adapter, Outgoing};
use super::console::Console;
use super::email::Mailer;
use super::http::HttpClient;
use super::link::Claim;
use super::mqtt::Publisher;
use super::text::{Facts, Rendered, render};
use super::{Dispatch, Recipient, SendError, backoff_ms};
use crate::alarms::AuditEntry;
use crate::config::{Channel, Config};
use crate::metrics::{Metrics, class_label};
use crate::store::{OutboxItem, OutboxKind, Receipt, Settle, Store, StoreError};

/// One adapter per channel kind.
#[derive(Debug)]
pub(super) struct Adapters {
    webhook: channels::Webhook,
    wecom: channels::Wecom,
    dingtalk: channels::Dingtalk,
    sms: Option<channels::Sms>,
    email: Option<Mailer>,
    mqtt: channels::Mqtt,
    console: Console,
}

impl Adapters {
    pub(super) fn new(
        config: &Config,
        publisher: Publisher,
        console: Console,
    ) -> Result<Self, String> {
        let timeout = config.notify.timeout.0;
        let http = HttpClient::new(timeout).map_err(|e| format!("TLS setup: {e}"))?;
        let email = config
            .smtp
            .as_ref()
            .map(|c| Mailer::new(c, timeout))
            .transpose()?;
        Ok(Adapters {
            webhook: channels::Webhook(http.clone()),
            wecom: channels::Wecom(http.clone()),
            dingtalk: channels::Dingtalk(http.clone()),
            sms: config.sms.as_ref().map(|c| channels::Sms {
                http,
                config: Arc::new(c.clone()),
            }),
            email,
            mqtt: channels::Mqtt {
                publisher,
                site: config.site.id.clone(),
            },
            console,
        })
    }

    fn get(&self, c: &Channel) -> Option<&dyn Adapter> {
        match c {
            Channel::Webhook { .. } => Some(&self.webhook),
            Channel::Wecom { .. } => Some(&self.wecom),
            Channel::Dingtalk { .. } => Some(&self.dingtalk),
            Channel::Sms { .. } => self.sms.as_ref().map(|a| a as &dyn Adapter),
            Channel::Email { .. } => self.email.as_ref().map(|a| a as &dyn Adapter),
            Channel::Mqtt => Some(&self.mqtt),
            Channel::Console => Some(&self.console),
        }
    }
}

/// What a delivery task needs.
pub(super) struct Job {
    pub store: Store,
    pub metrics: Metrics,
    pub dispatch: Arc<Dispatch>,
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn jitter(item: &OutboxItem) -> u64 {
    std::collections::hash_map::RandomState::new().hash_one((item.id, item.attempts))
}

impl Job {
    pub(super) async fn run(self, item: OutboxItem) {
        let outcome = match &item.kind {
            OutboxKind::State { alarm_id } => self.state(&item, alarm_id).await,
            OutboxKind::Notify {
                staff_id,
                body,
                channel,
                first_at,
            } => {
                let first_at = if *first_at == 0 {
                    item.created_at
                } else {
                    *first_at
                };
                self.notify(&item, staff_id, body, *channel, first_at).await
            }
        };
        if let Err(e) = outcome {
            warn!(item = item.id, error = %e, "outbox update failed; the delivery will be tried again");
        }
    }

    /// The retained alarm state: retried until the broker takes it.
    async fn state(&self, item: &OutboxItem, alarm_id: &str) -> Result<(), StoreError> {
        let Some(alarm) = self.store.alarm(alarm_id)? else {
            return self.store.settle(Settle {
                remove: Some(item.id),
                ..Default::default()
            });
        };
        let topic = format!(
            "linli/{}/alarms/{alarm_id}",
            self.dispatch.adapters.mqtt.site
        );
        let payload = serde_json::to_vec(&alarm).unwrap_or_default();
        let timeout = self.dispatch.limits.timeout.0;
        let publisher = &self.dispatch.adapters.mqtt.publisher;
        let result = tokio::time::timeout(timeout, async {
            publisher.publish(&topic, payload, true).await
        })
        .await;
        let ok = matches!(result, Ok(Ok(())));
        self.metrics
            .notifications
            .with_label_values(&["mqtt", if ok { "delivered" } else { "failed" }])
            .inc();
        if ok {
            return self.store.settle(Settle {
                remove: Some(item.id),
                ..Default::default()
            });
        }
        let mut item = item.clone();
        item.attempts += 1;
        let l = &self.dispatch.limits;
        item.next_at = crate::now_ms()
            + backoff_ms(
                item.attempts,
                ms(l.backoff.0),
                ms(l.backoff_max.0),
                jitter(&item),
            );
        debug!(
            alarm_id,
            attempts = item.attempts,
            "alarm state not published; will retry"
        );
        self.store.settle(Settle {
            rewrite: Some(item),
            ..Default::default()
        })
    }

    async fn notify(
        &self,
        item: &OutboxItem,
        staff_id: &str,
        body: &StaffNotification,
        channel: u32,
        first_at: u64,
    ) -> Result<(), StoreError> {
        let d = &self.dispatch;
        let Some(person) = d.people.get(staff_id) else {
            return self.drop_item(
                item,
                staff_id,
                body,
                "no such staff member in the configuration",
            );
        };
        if self
            .store
            .alarm(&body.alarm_id)?
            .is_some_and(|a| a.status == Handling::Resolved)
        {
            return self.drop_item(item, staff_id, body, "the alarm is resolved");
        }
        let n = person.channels.len();
        let index = channel as usize % n;
        let target = &person.channels[index];
        let limits = &d.limits;
        let now = crate::now_ms();
        let channel_deadline = item.created_at.saturating_add(ms(limits.max_age.0));
        let give_up_at = first_at.saturating_add(ms(limits.give_up.0));
        // With somewhere to fall back to, no attempt outlives the channel's time.
        let budget = if n > 1 {
            channel_deadline.saturating_sub(now).max(1_000)
        } else {
            u64::MAX
        };
        let timeout = Duration::from_millis(ms(limits.timeout.0).min(budget));

        let msg = compose(d, person, staff_id, body, index, first_at, now);
        let outgoing = msg.outgoing(staff_id, body, index);
        let started = Instant::now();
        let result = match d.adapters.get(target) {
            None => Err(SendError::Unconfigured(target.kind())),
            Some(adapter) => tokio::time::timeout(timeout, adapter.send(target, outgoing))
                .await
                .unwrap_or(Err(SendError::Timeout(timeout))),
        };
        let latency = started.elapsed();
        let attempt = item.attempts + 1;
        let kind = target.kind();
        let receipt = |result: &str, detail: String| Receipt {
            at: crate::now_ms(),
            alarm_id: body.alarm_id.clone(),
            staff_id: staff_id.to_string(),
            channel: kind.into(),
            index: index as u32,
            target: target.target(),
            key: msg.key.clone(),
            attempt,
            result: result.into(),
            detail,
            latency_ms: ms(latency),
        };
        let mut settle = Settle::default();
        let answer = match &result {
            Ok(confirmation) => confirmation.clone(),
            Err(e) => e.to_string(),
        };
        let first = receipt(
            if result.is_ok() {
                "delivered"
            } else {
                "failed"
            },
            answer,
        );
        self.metrics
            .notifications
            .with_label_values(&[kind, &first.result])
            .inc();
        self.metrics
            .notification_seconds
            .with_label_values(&[kind])
            .observe(latency.as_secs_f64());
        settle.receipts.push(first);
        let end = crate::now_ms();
        if result.is_ok() {
            settle.remove = Some(item.id);
            // Raise → delivery of the very first notification round (`id:0:0:0:staff`).
            if body.key.split(':').skip(1).take(3).all(|n| n == "0") {
                let seconds = end.saturating_sub(body.raised_at) as f64 / 1_000.0;
                self.metrics
                    .first_notification
                    .with_label_values(&[class_label(Some(&body.class))])
                    .observe(seconds);
            }
        } else {
            let plan = Plan {
                now: end,
                attempt,
                channels: n,
                index,
                channel_deadline,
                give_up_at,
                backoff_ms: ms(limits.backoff.0),
                backoff_max_ms: ms(limits.backoff_max.0),
                jitter: jitter(item),
            };
            match after_failure(&plan) {
                Next::GiveUp => {
                    settle.remove = Some(item.id);
                    settle.receipts.push(receipt(
                        "gave_up",
                        format!("no channel confirmed within {}", limits.give_up),
                    ));
                }
                Next::Fallback(next) => {
                    settle.remove = Some(item.id);
                    settle.enqueue.push(OutboxItem::new(
                        OutboxKind::Notify {
                            staff_id: staff_id.to_string(),
                            body: Box::new(body.clone()),
                            channel: next as u32,
                            first_at,
                        },
                        end,
                    ));
                    settle.receipts.push(receipt(
                        "fallback",
                        format!(
                            "{kind} did not confirm within {}; next: {} ({})",
                            limits.max_age,
                            person.channels[next].kind(),
                            person.channels[next].target()
                        ),
                    ));
                }
                Next::Retry(at) => {
                    let mut retry = item.clone();
                    retry.attempts = attempt;
                    retry.next_at = at;
                    settle.rewrite = Some(retry);
                }
            }
        }
        for r in &settle.receipts[1..] {
            self.metrics
                .notifications
                .with_label_values(&[kind, &r.result])
                .inc();
        }
        if let Err(e) = &result {
            warn!(staff_id, channel = kind, attempt, error = %e, "delivery failed");
        }
        settle.audit = settle.receipts.iter().map(audit).collect();
        self.store.settle(settle)
    }

    fn drop_item(
        &self,
        item: &OutboxItem,
        staff_id: &str,
        body: &StaffNotification,
        why: &str,
    ) -> Result<(), StoreError> {
        let r = Receipt {
            at: crate::now_ms(),
            alarm_id: body.alarm_id.clone(),
            staff_id: staff_id.to_string(),
            channel: String::new(),
            index: 0,
            target: String::new(),
            key: body.key.clone(),
            attempt: item.attempts,
            result: "dropped".into(),
            detail: why.into(),
            latency_ms: 0,
        };
        self.store.settle(Settle {
            remove: Some(item.id),
            audit: vec![audit(&r)],
            receipts: vec![r],
            ..Default::default()
        })
    }
}

/// A message composed for one person on one channel.
struct Composed {
    key: String,
    ack_url: String,
    rendered: Rendered,
    residents: Vec<String>,
}

impl Composed {
    fn outgoing<'a>(
        &'a self,
        staff_id: &'a str,
        body: &'a StaffNotification,
        index: usize,
    ) -> Outgoing<'a> {
        Outgoing {
            staff_id,
            key: &self.key,
            index: index as u32,
            body,
            rendered: &self.rendered,
            ack_url: &self.ack_url,
            residents: &self.residents,
        }
    }
}

/// The text, link and key of `body` for `person` on channel `index`. The link expires
/// `link_ttl` after the first attempt, so every attempt sends the same link.
fn compose(
    d: &Dispatch,
    person: &Recipient,
    staff_id: &str,
    body: &StaffNotification,
    index: usize,
    first_at: u64,
    now: u64,
) -> Composed {
    let token = d.link.sign(&Claim {
        alarm_id: body.alarm_id.clone(),
        staff_id: staff_id.to_string(),
        expires_at: first_at.saturating_add(ms(d.limits.link_ttl.0)),
    });
    let ack_url = format!("{}/ack/{token}", d.public_url);
    let residents = match (&body.household, person.sees_residents) {
        (Some(h), true) => d.residents.get(h).cloned().unwrap_or_default(),
        _ => Vec::new(),
    };
    let also_told = body
        .also_told
        .iter()
        .map(|id| {
            d.people
                .get(id)
                .map_or_else(|| id.clone(), |p| p.name.clone())
        })
        .collect();
    let rendered = render(&Facts {
        body,
        lang: &person.lang,
        residents: &residents,
        also_told,
        ack_url: &ack_url,
        now,
        utc_offset: d.utc_offset,
    });
    Composed {
        key: format!("{}:{index}", body.key),
        ack_url,
        rendered,
        residents,
    }
}

/// What a failed attempt is judged by.
#[derive(Debug, Clone, Copy)]
struct Plan {
    now: u64,
    attempt: u32,
    channels: usize,
    index: usize,
    channel_deadline: u64,
    give_up_at: u64,
    backoff_ms: u64,
    backoff_max_ms: u64,
    jitter: u64,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Again on the same channel at this time, ms.
    Retry(u64),
    /// The person's channel with this index.
    Fallback(usize),
    /// Nobody confirmed within `give_up`.
    GiveUp,
}

/// Pure: retry with backoff; with another channel to go to, not past the channel's deadline,
/// then fall back; never past `give_up`.
fn after_failure(p: &Plan) -> Next {
    if p.now >= p.give_up_at {
        return Next::GiveUp;
    }
    if p.channels > 1 && p.now >= p.channel_deadline {
        return Next::Fallback((p.index + 1) % p.channels);
    }
    let delay = backoff_ms(p.attempt, p.backoff_ms, p.backoff_max_ms, p.jitter);
    let mut at = p.now.saturating_add(delay).min(p.give_up_at);
    if p.channels > 1 {
        // One last attempt at the deadline, then the next channel.
        at = at.min(p.channel_deadline);
    }
    Next::Retry(at)
}

/// The audit record of a receipt.
fn audit(r: &Receipt) -> AuditEntry {
    AuditEntry {
        id: 0,
        at: r.at,
        actor: "system".into(),
        action: r.result.clone(),
        alarm_id: Some(r.alarm_id.clone()),
        detail: receipt_line(r),
    }
}

/// One line for people: `webhook to wang (http://host/hook): attempt 2, HTTP 200, 35 ms`.
pub fn receipt_line(r: &Receipt) -> String {
    if r.result == "dropped" {
        return format!("notification to {} dropped: {}", r.staff_id, r.detail);
    }
    format!(
        "{} to {} ({}): attempt {}, {}, {} ms [key {}]",
        r.channel, r.staff_id, r.target, r.attempt, r.detail, r.latency_ms, r.key
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(now: u64, channels: usize) -> Plan {
        Plan {
            now,
            attempt: 1,
            channels,
            index: channels - 1,
            channel_deadline: 120_000,
            give_up_at: 3_600_000,
            backoff_ms: 1_000,
            backoff_max_ms: 60_000,
            jitter: 0,
        }
    }

    #[test]
    fn failures_retry_then_fall_back_then_give_up() {
        assert_eq!(after_failure(&plan(0, 2)), Next::Retry(1_000));
        let late = Plan {
            attempt: 10,
            ..plan(100_000, 2)
        };
        assert_eq!(
            after_failure(&late),
            Next::Retry(120_000),
            "capped at the deadline"
        );
        // From the last channel back to the first.
        assert_eq!(after_failure(&plan(120_000, 2)), Next::Fallback(0));
        let first = Plan {
            index: 0,
            ..plan(120_000, 3)
        };
        assert_eq!(after_failure(&first), Next::Fallback(1));
        // One channel: keep retrying past max_age, until give_up.
        assert_eq!(
            after_failure(&Plan {
                attempt: 10,
                ..plan(500_000, 1)
            }),
            Next::Retry(560_000)
        );
        assert_eq!(
            after_failure(&Plan {
                attempt: 10,
                ..plan(3_590_000, 1)
            }),
            Next::Retry(3_600_000)
        );
        assert_eq!(after_failure(&plan(3_600_000, 2)), Next::GiveUp);
    }
}
