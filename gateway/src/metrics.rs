//! Every metric the hub exports, declared once and typed. Label values come from enums, never from
//! device ids, so cardinality stays bounded.

use prometheus::{
    Encoder, Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

use linli_protocols::{Channel, RejectReason};

use crate::store::DeviceState;

/// The hub's metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `linli_messages_received_total{channel}`: accepted and durably stored.
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
    /// `linli_devices{state}`.
    pub devices: IntGaugeVec,
    /// `linli_mqtt_connected`: 1 while subscribed.
    pub mqtt_connected: IntGauge,
    /// `linli_mqtt_reconnects_total`.
    pub mqtt_reconnects: IntCounter,
    /// `linli_retention_deleted_total{class}`.
    pub retention_deleted: IntCounterVec,
    /// `linli_alarms_raised_total{severity}`.
    pub alarms_raised: IntCounterVec,
    /// `linli_alarms_open{severity}`: alarms not yet resolved.
    pub alarms_open: IntGaugeVec,
    /// `linli_notifications_total{channel,outcome}`.
    pub notifications: IntCounterVec,
}

impl Metrics {
    /// Registers every metric; every label combination starts at zero so rates work at once.
    pub fn new() -> Self {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, label: &str| {
            let m = IntCounterVec::new(Opts::new(name, help), &[label])
                .unwrap_or_else(|_| unreachable!());
            registry
                .register(Box::new(m.clone()))
                .unwrap_or_else(|_| unreachable!());
            m
        };
        let counter = |name: &str, help: &str| {
            let m = IntCounter::new(name, help).unwrap_or_else(|_| unreachable!());
            registry
                .register(Box::new(m.clone()))
                .unwrap_or_else(|_| unreachable!());
            m
        };
        let gauge = |name: &str, help: &str| {
            let m = IntGauge::new(name, help).unwrap_or_else(|_| unreachable!());
            registry
                .register(Box::new(m.clone()))
                .unwrap_or_else(|_| unreachable!());
            m
        };
        let histogram = |name: &str, help: &str, buckets: Vec<f64>| {
            let m = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets))
                .unwrap_or_else(|_| unreachable!());
            registry
                .register(Box::new(m.clone()))
                .unwrap_or_else(|_| unreachable!());
            m
        };
        let devices = IntGaugeVec::new(
            Opts::new("linli_devices", "Devices by connection state."),
            &["state"],
        )
        .unwrap_or_else(|_| unreachable!());
        registry
            .register(Box::new(devices.clone()))
            .unwrap_or_else(|_| unreachable!());

        let m = Metrics {
            received: counter_vec(
                "linli_messages_received_total",
                "Device messages accepted and durably stored, by channel.",
                "channel",
            ),
            rejected: counter_vec(
                "linli_messages_rejected_total",
                "Device messages refused, by reason; each is kept for GET /api/v1/rejected.",
                "reason",
            ),
            duplicates: counter(
                "linli_messages_duplicate_total",
                "Messages dropped as repeated (device, seq).",
            ),
            seq_gaps: counter(
                "linli_sequence_gaps_total",
                "Sequence numbers skipped by devices: loss before the hub.",
            ),
            batch_seconds: histogram(
                "linli_store_batch_seconds",
                "Time to apply and flush one ingest batch.",
                vec![
                    0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
                ],
            ),
            batch_messages: histogram(
                "linli_store_batch_messages",
                "Messages per ingest batch.",
                vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0],
            ),
            store_bytes: gauge(
                "linli_store_size_bytes",
                "Bytes the store occupies on disk.",
            ),
            devices,
            mqtt_connected: gauge(
                "linli_mqtt_connected",
                "1 while the hub is subscribed to the broker.",
            ),
            mqtt_reconnects: counter(
                "linli_mqtt_reconnects_total",
                "Connection losses to the broker.",
            ),
            retention_deleted: counter_vec(
                "linli_retention_deleted_total",
                "Records deleted past their retention, by data class.",
                "class",
            ),
            alarms_raised: counter_vec(
                "linli_alarms_raised_total",
                "Alarms raised, by severity.",
                "severity",
            ),
            alarms_open: {
                let m = IntGaugeVec::new(
                    Opts::new("linli_alarms_open", "Alarms not yet resolved, by severity."),
                    &["severity"],
                )
                .unwrap_or_else(|_| unreachable!());
                registry
                    .register(Box::new(m.clone()))
                    .unwrap_or_else(|_| unreachable!());
                m
            },
            notifications: {
                let m = IntCounterVec::new(
                    Opts::new(
                        "linli_notifications_total",
                        "Delivery attempts, by channel and outcome.",
                    ),
                    &["channel", "outcome"],
                )
                .unwrap_or_else(|_| unreachable!());
                registry
                    .register(Box::new(m.clone()))
                    .unwrap_or_else(|_| unreachable!());
                m
            },
            registry,
        };
        for s in linli_protocols::Severity::ALL {
            m.alarms_raised.with_label_values(&[s.as_str()]);
            m.alarms_open.with_label_values(&[s.as_str()]);
        }
        for outcome in ["delivered", "failed"] {
            m.notifications.with_label_values(&["mqtt", outcome]);
        }
        for c in [
            Channel::Telemetry,
            Channel::Event,
            Channel::Status,
            Channel::Announce,
        ] {
            m.received.with_label_values(&[c.as_str()]);
        }
        for r in RejectReason::ALL {
            m.rejected.with_label_values(&[r.as_str()]);
        }
        for s in DeviceState::ALL {
            m.devices.with_label_values(&[s.as_str()]);
        }
        for class in ["telemetry", "events"] {
            m.retention_deleted.with_label_values(&[class]);
        }
        m
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
