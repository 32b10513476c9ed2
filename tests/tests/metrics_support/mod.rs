//! Shared by `dashboards.rs` and `prometheus.rs`: reading the repository's dashboards and rules,
//! pulling metric names out of PromQL, and a real hub (mosquitto + `linli`) fed with enough
//! traffic that every metric family it exports has a series: telemetry from devices of every
//! class, an SOS alarm that is acknowledged, a fall alarm that is not, a rejected payload, a duplicate and a sequence gap.

// Test helpers: a failed step should stop the test with its message. Each test target uses a
// different part of this module.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use linli_tests::{Broker, Gateway, PubOptions, Publisher, wait_for, wait_until, workspace_root};
use serde_json::{Value, json};

/// The site id of the fed hub.
pub const SITE: &str = "obs";

/// The binding every panel and target must carry.
pub fn datasource_binding() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

/// `dashboards/` of the repository.
pub fn dashboards_dir() -> PathBuf {
    workspace_root().join("dashboards")
}

/// `dashboards/prometheus/linli-rules.yml`.
pub fn rules_path() -> PathBuf {
    dashboards_dir().join("prometheus").join("linli-rules.yml")
}

/// Every `dashboards/grafana/*.json`, parsed, sorted by file name.
pub fn dashboards() -> Vec<(PathBuf, Value)> {
    let dir = dashboards_dir().join("grafana");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let v: Value = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{} is not JSON: {e}", p.display()));
            (p, v)
        })
        .collect()
}

/// Every panel of a dashboard, rows and the panels nested in (collapsed) rows included.
pub fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for p in list.as_array().into_iter().flatten() {
            out.push(p);
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// One PromQL expression of a dashboard: where it is, and the text.
#[derive(Debug, Clone)]
pub struct Expr {
    /// `uid / panel title / refId`.
    pub place: String,
    pub panel_title: String,
    pub expr: String,
}

/// Every target expression of every panel of a dashboard.
pub fn dashboard_exprs(dashboard: &Value) -> Vec<Expr> {
    let uid = dashboard["uid"].as_str().unwrap_or("?");
    let mut out = Vec::new();
    for p in panels(dashboard) {
        let title = p["title"].as_str().unwrap_or("?");
        for t in p["targets"].as_array().into_iter().flatten() {
            let expr = t["expr"].as_str().unwrap_or_default();
            out.push(Expr {
                place: format!("{uid} / {title} / {}", t["refId"].as_str().unwrap_or("?")),
                panel_title: title.to_string(),
                expr: expr.to_string(),
            });
        }
    }
    out
}

/// The queries of a dashboard's query variables (`label_values(...)`): (name, query).
pub fn variable_queries(dashboard: &Value) -> Vec<(String, String)> {
    dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let q = match &v["query"] {
                Value::String(s) => s.clone(),
                other => other["query"].as_str().unwrap_or_default().to_string(),
            };
            (v["name"].as_str().unwrap_or("?").to_string(), q)
        })
        .collect()
}

/// Identifiers starting with `linli_` or `process_` in `text` (not inside a longer name, such as
/// the recording rule `instance:linli_x:rate5m`), as written (suffixes kept).
pub fn metric_names(text: &str) -> BTreeSet<String> {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut out = BTreeSet::new();
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, &(at, _)) in chars.iter().enumerate() {
        let rest = &text[at..];
        if !(rest.starts_with("linli_") || rest.starts_with("process_")) {
            continue;
        }
        if i > 0 && is_ident(chars[i - 1].1) {
            continue;
        }
        let end = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
        out.insert(rest[..end].to_string());
    }
    out
}

/// Metric families of a text exposition: name → type, from the `# TYPE` lines.
pub fn families(exposition: &str) -> BTreeMap<String, String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.to_string()))
        })
        .collect()
}

/// Names of the families that have a `# HELP` line.
pub fn helped(exposition: &str) -> BTreeSet<String> {
    exposition
        .lines()
        .filter_map(|l| l.strip_prefix("# HELP "))
        .filter_map(|l| l.split_whitespace().next().map(String::from))
        .collect()
}

/// Checks that `name` (as used in PromQL) is a series of an exported family: a counter or gauge
/// by its own name, a histogram only through `_bucket`, `_sum` or `_count`.
pub fn check_name(name: &str, exported: &BTreeMap<String, String>) -> Result<(), String> {
    if let Some(kind) = exported.get(name) {
        return match kind.as_str() {
            "histogram" | "summary" => Err(format!(
                "`{name}` is a {kind}: query its _bucket, _sum or _count series"
            )),
            _ => Ok(()),
        };
    }
    for suffix in ["_bucket", "_sum", "_count"] {
        if let Some(base) = name.strip_suffix(suffix) {
            match exported.get(base).map(String::as_str) {
                Some("histogram") => return Ok(()),
                Some("summary") if suffix != "_bucket" => return Ok(()),
                Some(kind) => {
                    return Err(format!("`{name}`: `{base}` is a {kind}, not a histogram"));
                }
                None => {}
            }
        }
    }
    Err(format!("`{name}` is not exported by the hub"))
}

/// A blocking HTTP client that never uses a proxy (all traffic stays on 127.0.0.1).
pub fn agent() -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build();
    ureq::Agent::new_with_config(config)
}

/// POST JSON to 127.0.0.1:`port``path`: status and body text.
pub fn post_json(port: u16, path: &str, body: &Value) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    let mut resp = agent()
        .post(&url)
        .send_json(body)
        .unwrap_or_else(|e| panic!("POST {url}: {e}"));
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (status, text)
}

/// A broker and a hub.
#[derive(Debug)]
pub struct Hub {
    pub gw: Gateway,
    pub broker: Broker,
}

/// What [`Hub::feed`] did.
#[derive(Debug, Clone)]
pub struct Fed {
    /// The SOS alarm, acknowledged.
    pub alarm_id: String,
    /// The SOS button.
    pub sos_device: String,
}

impl Hub {
    /// A broker and a hub on free 127.0.0.1 ports.
    pub fn start() -> Hub {
        let broker = Broker::start().unwrap();
        let gw = Gateway::launch(&broker.url(), SITE, "").unwrap();
        Hub { gw, broker }
    }

    /// The exposition text of `GET /metrics`.
    pub fn metrics_text(&self) -> String {
        let (status, text) = self.gw.http().get_text("/metrics").unwrap();
        assert_eq!(status, 200, "GET /metrics: {text}");
        text
    }

    /// Telemetry from devices of every class, an announced SOS button that raises an SOS which
    /// is then acknowledged through the API, a malformed payload, a duplicate and a sequence
    /// gap. Returns once all of it shows in `/metrics`.
    pub fn feed(&self) -> Fed {
        let mut publisher =
            Publisher::connect(PubOptions::new(self.broker.port(), "obs-feeder")).unwrap();
        publisher.wait_connected(Duration::from_secs(10)).unwrap();
        let mut sent = 0usize;
        let mut publish = |device: &str, channel: &str, payload: Value, retain: bool| {
            publisher
                .publish_json(SITE, device, channel, &payload, retain)
                .unwrap();
            sent += 1;
        };

        // Devices of every class, announced and online, with telemetry.
        let devices = [
            ("pir-301", "care.pir"),
            ("air-b3", "facility.air"),
            ("gate-n", "access.gate"),
        ];
        for (id, kind) in devices {
            publish(
                id,
                "announce",
                json!({"kind": kind, "model": "T-1", "fw": "1.0.0",
                       "location": {"building": "3", "unit": "1", "floor": 1, "room": "101"}}),
                true,
            );
            publish(
                id,
                "status",
                json!({"state": "online", "battery_pct": 90}),
                true,
            );
            for seq in 1..=3 {
                publish(
                    id,
                    "telemetry",
                    json!({"seq": seq, "values": {"battery_pct": 90, "temperature_c": 21.5}}),
                    false,
                );
            }
        }
        // An unannounced device (class `other`), a duplicate (seq 2 twice) and a gap (4 → 6).
        for seq in [1, 2, 2, 4, 6] {
            publish(
                "vendor-x",
                "telemetry",
                json!({"seq": seq, "values": {"v": seq}}),
                false,
            );
        }

        // The SOS button: announced, online, then an SOS.
        let sos = "sos-502";
        publish(
            sos,
            "announce",
            json!({"kind": "care.sos_button", "model": "SB-1", "fw": "1.0.3",
                   "location": {"building": "3", "unit": "2", "floor": 5, "room": "502"}}),
            true,
        );
        publish(sos, "status", json!({"state": "online"}), true);
        wait_until(
            Duration::from_secs(15),
            "the SOS button's announce",
            || matches!(self.gw.device(sos), Ok(Some(d)) if d["kind"] == "care.sos_button"),
        )
        .unwrap();
        publish(sos, "event", json!({"type": "sos"}), false);
        // A second critical alarm that nobody acknowledges.
        publish(sos, "event", json!({"type": "fall"}), false);

        // A payload the hub must reject (malformed JSON).
        publisher
            .publish_raw(
                &format!("linli/{SITE}/pir-301/telemetry"),
                b"{not json".to_vec(),
                false,
            )
            .unwrap();
        sent += 1;
        publisher
            .tracker()
            .wait_acked(sent, Duration::from_secs(20))
            .unwrap();

        // The alarm, acknowledged through the API (open: no [[staff]] configured).
        let alarm = wait_for(Duration::from_secs(15), "the SOS alarm", || {
            let items = self.gw.get_all("/api/v1/alarms").ok()?;
            items
                .into_iter()
                .find(|a| a["rule"] == "sos" && a["device_id"] == sos)
        })
        .unwrap();
        let alarm_id = alarm["id"].as_str().expect("alarm id").to_string();
        let (status, body) = post_json(
            self.gw.http_port(),
            &format!("/api/v1/alarms/{alarm_id}/ack"),
            &json!({"note": "x"}),
        );
        assert_eq!(status, 200, "POST /api/v1/alarms/{alarm_id}/ack: {body}");

        // Everything visible in /metrics.
        let mut last = String::new();
        wait_until(
            Duration::from_secs(15),
            "the fed traffic in /metrics",
            || {
                let Ok(m) = self.gw.metrics() else {
                    return false;
                };
                let seen = m.sum("linli_messages_received_total") >= 20.0
                    && m.labelled("linli_messages_rejected_total", "reason", "malformed_json")
                        >= 1.0
                    && m.sum("linli_alarm_ack_seconds_count") >= 1.0
                    && m.sum("linli_alarms_raised_total") >= 1.0
                    && m.value("linli_messages_duplicate_total") >= 1.0
                    && m.value("linli_sequence_gaps_total") >= 1.0;
                if !seen {
                    last = format!("{:?}", m.0);
                }
                seen
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}; last /metrics: {last}"));
        publisher.disconnect().unwrap();
        Fed {
            alarm_id,
            sos_device: sos.to_string(),
        }
    }
}

/// Reads a file of the repository.
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}
