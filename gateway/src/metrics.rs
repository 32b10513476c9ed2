//! Every metric the hub exports, declared once and typed. Label values come from closed sets
//! (channels, reasons, severities, kind families, roles, rule names from the config), never from
//! device ids, so cardinality stays bounded.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};

use linli_protocols::{Channel, RejectReason, Severity};

use crate::store::DeviceState;

/// Kind families used as the `class` label: the first segment of a dotted kind.
pub const CLASSES: [&str; 4] = ["care", "access", "facility", "other"];

/// The `class` label of a device kind or alarm class.
pub fn class_label(kind: Option<&str>) -> &'static str {
    match kind.and_then(|k| k.split('.').next()) {
        Some("care") => "care",
        Some("access") => "access",
        Some("facility") => "facility",
        _ => "other",
    }
}

/// Buckets for human response times: seconds to an hour.
const RESPONSE_BUCKETS: [f64; 12] = [
    1.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
];

/// The hub's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `linli_messages_received_total{channel,class}`: accepted and durably stored.
    pub received: IntCounterVec,
    /// `linli_messages_rejected_total{reason}`.
    pub rejected: IntCounterVec,
    /// `linli_messages_duplicate_total`: repeated sequence numbers dropped.
    pub duplicates: IntCounter,
    /// `linli_sequence_gaps_total`: sequence numbers never received (loss upstream of the hub).
    pub seq_gaps: IntCounter,
    /// `linli_store_batch_seconds`: apply + flush time of one ingest batch.
    pub batch_seconds: Histogram,
    /// `linli_store_batch_messages`: messages per ingest batch.
    pub batch_messages: Histogram,
    /// `linli_store_size_bytes`.
    pub store_bytes: IntGauge,
    /// `linli_devices{class,state}`, state `online` / `offline` / `silent`.
    pub devices: IntGaugeVec,
    /// `linli_mqtt_connected`: 1 while the hub is subscribed.
    pub mqtt_connected: IntGauge,
    /// `linli_mqtt_reconnects_total`.
    pub mqtt_reconnects: IntCounter,
    /// `linli_retention_deleted_total{class}` (data class: telemetry, events, alarms, audit).
    pub retention_deleted: IntCounterVec,
    /// `linli_alarms_raised_total{rule,severity}`.
    pub alarms_raised: IntCounterVec,
    /// `linli_alarms_open{class,severity,status}`: alarms not yet resolved, `open` (nobody has
    /// it) or `acknowledged`.
    pub alarms_open: IntGaugeVec,
    /// `linli_alarm_first_notification_seconds{class}`: raise → a first-step notification delivered.
    pub first_notification: HistogramVec,
    /// `linli_alarm_ack_seconds{class,role}`: raise → acknowledged, by the acknowledger's role.
    pub ack_seconds: HistogramVec,
    /// `linli_escalations_total{step}`.
    pub escalations: IntCounterVec,
    /// `linli_notifications_total{channel,outcome}`: outcome `delivered`, `failed` (an attempt),
    /// `fallback` (moved to the next channel), `gave_up`.
    pub notifications: IntCounterVec,
    /// `linli_notification_seconds{channel}`: one delivery attempt, call to answer.
    pub notification_seconds: HistogramVec,
    /// `linli_outbox_backlog`: deliveries waiting.
    pub outbox_backlog: IntGauge,
    /// `linli_outbox_oldest_seconds`: age of the oldest waiting delivery.
    pub outbox_oldest: IntGauge,
}

/// Registers a collector. Metric definitions are static, so a failure is a programming error
/// that every test run would hit at once.
#[allow(clippy::expect_used)]
fn reg<C: Collector + Clone + 'static>(registry: &Registry, c: prometheus::Result<C>) -> C {
    let c = c.expect("static metric definition");
    registry
        .register(Box::new(c.clone()))
        .expect("metric registered once");
    c
}

impl Metrics {
    /// Registers every metric; every label combination starts at zero so rates work at once.
    pub fn new() -> Self {
        let r = Registry::new();
        let counter = |n: &str, h: &str| reg(&r, IntCounter::new(n, h));
        let counters =
            |n: &str, h: &str, l: &[&str]| reg(&r, IntCounterVec::new(Opts::new(n, h), l));
        let gauge = |n: &str, h: &str| reg(&r, IntGauge::new(n, h));
        let gauges = |n: &str, h: &str, l: &[&str]| reg(&r, IntGaugeVec::new(Opts::new(n, h), l));
        let histograms = |n: &str, h: &str, l: &[&str], b: &[f64]| {
            reg(
                &r,
                HistogramVec::new(HistogramOpts::new(n, h).buckets(b.to_vec()), l),
            )
        };
        let histogram = |n: &str, h: &str, b: &[f64]| {
            reg(
                &r,
                Histogram::with_opts(HistogramOpts::new(n, h).buckets(b.to_vec())),
            )
        };
        let build = gauges(
            "linli_build_info",
            "Build of the running hub.",
            &["version"],
        );
        build.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        // RSS, CPU, open fds: process_* series.
        let _ = r.register(Box::new(
            prometheus::process_collector::ProcessCollector::for_self(),
        ));
        let m = Metrics {
            received: counters(
                "linli_messages_received_total",
                "Device messages accepted and durably stored, by channel and device class.",
                &["channel", "class"],
            ),
            rejected: counters(
                "linli_messages_rejected_total",
                "Device messages refused, by reason; each is kept for GET /api/v1/rejected.",
                &["reason"],
            ),
            duplicates: counter(
                "linli_messages_duplicate_total",
                "Messages dropped as a repeated (device, seq).",
            ),
            seq_gaps: counter(
                "linli_sequence_gaps_total",
                "Sequence numbers skipped by devices: loss before the hub.",
            ),
            batch_seconds: histogram(
                "linli_store_batch_seconds",
                "Time to apply and flush one pipeline batch.",
                &[
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ],
            ),
            batch_messages: histogram(
                "linli_store_batch_messages",
                "Messages per pipeline batch.",
                &[1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0],
            ),
            store_bytes: gauge(
                "linli_store_size_bytes",
                "Bytes the store occupies on disk.",
            ),
            devices: gauges(
                "linli_devices",
                "Devices by class and state (online, offline, silent).",
                &["class", "state"],
            ),
            mqtt_connected: gauge(
                "linli_mqtt_connected",
                "1 while the hub is subscribed to the broker.",
            ),
            mqtt_reconnects: counter(
                "linli_mqtt_reconnects_total",
                "Connection losses to the broker.",
            ),
            retention_deleted: counters(
                "linli_retention_deleted_total",
                "Records deleted past their retention, by data class.",
                &["class"],
            ),
            alarms_raised: counters(
                "linli_alarms_raised_total",
                "Alarms raised, by rule and severity.",
                &["rule", "severity"],
            ),
            alarms_open: gauges(
                "linli_alarms_open",
                "Alarms not yet resolved, by class, severity and status (open: nobody has it yet; acknowledged).",
                &["class", "severity", "status"],
            ),
            first_notification: histograms(
                "linli_alarm_first_notification_seconds",
                "From an alarm's raise to the delivery of a first-step notification.",
                &["class"],
                &[
                    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
                ],
            ),
            ack_seconds: histograms(
                "linli_alarm_ack_seconds",
                "From an alarm's raise to its acknowledgement, by the role of who acknowledged.",
                &["class", "role"],
                &RESPONSE_BUCKETS,
            ),
            escalations: counters(
                "linli_escalations_total",
                "Escalation steps fired, by step (0 = first).",
                &["step"],
            ),
            notifications: counters(
                "linli_notifications_total",
                "Delivery attempts, by channel and outcome.",
                &["channel", "outcome"],
            ),
            notification_seconds: histograms(
                "linli_notification_seconds",
                "Time of one delivery attempt, from the call to the receiver's answer, by channel.",
                &["channel"],
                &[
                    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
                ],
            ),
            outbox_backlog: gauge("linli_outbox_backlog", "Deliveries waiting in the outbox."),
            outbox_oldest: gauge(
                "linli_outbox_oldest_seconds",
                "Age of the oldest delivery waiting in the outbox.",
            ),
            registry: r,
        };
        m.zero();
        m
    }

    fn zero(&self) {
        for c in [
            Channel::Telemetry,
            Channel::Event,
            Channel::Status,
            Channel::Announce,
        ] {
            for class in CLASSES {
                self.received.with_label_values(&[c.as_str(), class]);
            }
        }
        for r in RejectReason::ALL {
            self.rejected.with_label_values(&[r.as_str()]);
        }
        for class in CLASSES {
            for state in ["online", "offline", "silent"] {
                self.devices.with_label_values(&[class, state]);
            }
            for s in Severity::ALL {
                for status in ["open", "acknowledged"] {
                    self.alarms_open
                        .with_label_values(&[class, s.as_str(), status]);
                }
            }
            self.first_notification.with_label_values(&[class]);
        }
        for class in ["telemetry", "events", "alarms", "audit"] {
            self.retention_deleted.with_label_values(&[class]);
        }
        for channel in crate::config::CHANNEL_KINDS {
            for outcome in ["delivered", "failed", "fallback", "gave_up"] {
                self.notifications.with_label_values(&[channel, outcome]);
            }
            self.notification_seconds.with_label_values(&[channel]);
        }
        self.escalations.with_label_values(&["0"]);
        let _ = DeviceState::ALL;
    }

    /// Starts the alarm series of the rules in force and the roles configured at zero, so that
    /// the first alarm after a start is an increase Prometheus can see.
    pub fn zero_alarms<'a>(
        &self,
        rules: impl IntoIterator<Item = (&'a str, Severity)>,
        roles: &[&str],
    ) {
        for (rule, severity) in rules {
            self.alarms_raised
                .with_label_values(&[rule, severity.as_str()]);
        }
        for class in CLASSES {
            for role in roles.iter().chain(&["none"]) {
                self.ack_seconds.with_label_values(&[class, role]);
            }
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        // Encoding into a Vec cannot fail for the text format.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut buf);
        String::from_utf8(buf).unwrap_or_default()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_the_contracted_series_from_the_start() {
        let text = Metrics::new().render();
        for series in [
            "linli_messages_received_total{channel=\"telemetry\",class=\"care\"} 0",
            "linli_messages_rejected_total{reason=\"malformed_json\"} 0",
            "linli_alarms_open{class=\"care\",severity=\"critical\",status=\"open\"} 0",
            "linli_notifications_total{channel=\"mqtt\",outcome=\"delivered\"} 0",
            "linli_devices{class=\"facility\",state=\"silent\"} 0",
            "linli_build_info{version=",
            "linli_outbox_backlog 0",
        ] {
            assert!(text.contains(series), "{series} missing from\n{text}");
        }
    }

    #[test]
    fn kind_families() {
        assert_eq!(class_label(Some("care.sos_button")), "care");
        assert_eq!(class_label(Some("care")), "care");
        assert_eq!(class_label(Some("vendor.thing")), "other");
        assert_eq!(class_label(None), "other");
    }
}
