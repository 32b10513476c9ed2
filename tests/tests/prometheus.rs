//! The Prometheus side of `dashboards/`: a real Prometheus scrapes a real, fed hub every second
//! with the repository's `linli-rules.yml` loaded, and every PromQL expression of every dashboard
//! panel and every rule is run through its HTTP API; `promtool` checks the rules, the example
//! config, the alerts' behaviour (`promtool test rules`) and the hub's `/metrics` exposition.
//!
//! Needs the Debian package `prometheus` (`/usr/bin/prometheus`, `/usr/bin/promtool`).

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "metrics_support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use linli_tests::{free_port, tail, temp_dir, wait_for, wait_for_every};
use serde_json::Value;
use support::{Hub, dashboards, dashboards_dir, rules_path};

/// How long Prometheus may take to be ready.
const STARTUP: Duration = Duration::from_secs(30);
/// How long to wait for scraped data, rule evaluations and alerts.
const SETTLE: Duration = Duration::from_secs(30);

/// The alerts the rules file must define.
const ALERTS: [&str; 7] = [
    "LinliHubDown",
    "LinliIngestStalled",
    "LinliRejectRatioHigh",
    "LinliOutboxBacklogGrowing",
    "LinliStoreNearDiskLimit",
    "LinliCriticalAlarmUnacknowledged",
    "LinliMqttDisconnected",
];

/// The hub's severities.
const SEVERITIES: [&str; 5] = ["critical", "major", "minor", "warning", "info"];

/// A tool of the `prometheus` package: on PATH, else in /usr/bin.
fn tool(name: &str) -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    let bin = on_path.unwrap_or_else(|| PathBuf::from("/usr/bin").join(name));
    assert!(
        bin.is_file(),
        "`{name}` not found: install the Debian package `prometheus` \
         (apt-get install -y prometheus)"
    );
    bin
}

/// Runs a tool (with `stdin` piped in when given); panics with its output unless it succeeds
/// within a minute. The output goes to a file, so a chatty tool can never block on a full pipe.
fn run(cmd: &mut Command, stdin: Option<&str>, what: &str) -> String {
    let tmp = temp_dir("linli-tool-").unwrap();
    let out_path = tmp.path().join("output");
    let out = std::fs::File::create(&out_path).unwrap();
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(out.try_clone().unwrap())
    .stderr(out);
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("{what}: spawn: {e}"));
    if let Some(input) = stdin {
        // Dropped at the end of this block: the tool sees the end of its input.
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(input.as_bytes()).unwrap();
    }
    let started = Instant::now();
    let status = match wait_for(Duration::from_secs(60), what, || {
        child.try_wait().ok().flatten()
    }) {
        Ok(s) => s,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: {e:#}");
        }
    };
    let text = std::fs::read_to_string(&out_path).unwrap_or_default();
    assert!(
        status.success(),
        "{what} failed ({status}, {:.1?}):\n{text}",
        started.elapsed()
    );
    text
}

/// A Prometheus server on a free 127.0.0.1 port with its own config and TSDB in a temporary
/// directory. `Drop` kills it and removes the directory.
#[derive(Debug)]
struct Prometheus {
    dir: Option<tempfile::TempDir>,
    path: PathBuf,
    port: u16,
    child: Option<Child>,
    agent: ureq::Agent,
}

impl Prometheus {
    /// Starts it scraping the hub at 127.0.0.1:`target` every second (job `linli`), evaluating
    /// `rules` every second, and waits until it is ready.
    fn start(target: u16, rules: &Path) -> Prometheus {
        let dir = temp_dir("linli-prometheus-").unwrap();
        let path = dir.path().to_path_buf();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files:\n  - \"{rules}\"\n\
             scrape_configs:\n  - job_name: linli\n    static_configs:\n      \
             - targets: [\"127.0.0.1:{target}\"]\n",
            rules = rules.display()
        );
        std::fs::write(path.join("prometheus.yml"), config).unwrap();
        let mut prom = Prometheus {
            dir: Some(dir),
            path,
            port: 0,
            child: None,
            agent: support::agent(),
        };
        // Another process may take the port between our probe and Prometheus' bind: retry.
        let mut last = String::new();
        for _ in 0..3 {
            prom.port = free_port().unwrap();
            match prom.launch() {
                Ok(()) => return prom,
                Err(e) => last = e,
            }
        }
        panic!("Prometheus did not start: {last}");
    }

    fn log_path(&self) -> PathBuf {
        self.path.join("prometheus.log")
    }

    fn launch(&mut self) -> Result<(), String> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .map_err(|e| e.to_string())?;
        let mut child = Command::new(tool("prometheus"))
            .arg(format!(
                "--config.file={}",
                self.path.join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                self.path.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{}", self.port))
            .arg("--log.level=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("spawn prometheus: {e}"))?;
        let ready = wait_for_every(
            STARTUP,
            Duration::from_millis(100),
            "Prometheus to be ready",
            || {
                if let Ok(Some(status)) = child.try_wait() {
                    return Some(Err(status));
                }
                matches!(self.get_raw("/-/ready"), Ok((200, _))).then_some(Ok(()))
            },
        );
        match ready {
            Ok(Ok(())) => {
                self.child = Some(child);
                Ok(())
            }
            Ok(Err(status)) => Err(format!(
                "prometheus exited with {status} on port {}:\n{}",
                self.port,
                tail(&self.log_path(), 20)
            )),
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{e:#}:\n{}", tail(&self.log_path(), 20)))
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn get_raw(&self, path: &str) -> Result<(u16, String), String> {
        let mut resp = self
            .agent
            .get(&self.url(path))
            .call()
            .map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 * 1024 * 1024)
            .read_to_string()
            .map_err(|e| e.to_string())?;
        Ok((status, body))
    }

    /// GET an API path, as JSON with `status: success`.
    fn api(&self, path: &str) -> Value {
        let (status, body) = self
            .get_raw(path)
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let v: Value = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: HTTP {status}, not JSON ({e}): {body}"));
        assert_eq!(v["status"], "success", "GET {path}: HTTP {status}: {body}");
        v
    }

    /// An instant query: the whole answer (`status` is `success` or `error`).
    fn query(&self, expr: &str) -> Value {
        let url = self.url("/api/v1/query");
        let mut resp = self
            .agent
            .get(&url)
            .query("query", expr)
            .call()
            .unwrap_or_else(|e| panic!("GET {url} for `{expr}`: {e}"));
        let body = resp.body_mut().read_to_string().unwrap_or_default();
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("query `{expr}`: not JSON ({e}): {body}"))
    }

    /// The result list of a successful instant query, or the error.
    fn results(&self, expr: &str) -> Result<Vec<Value>, String> {
        let v = self.query(expr);
        if v["status"] != "success" {
            return Err(format!("{}: {}", v["errorType"], v["error"]));
        }
        Ok(match &v["data"]["result"] {
            Value::Array(items) => items.clone(),
            // A scalar or string result: one value.
            Value::Null => Vec::new(),
            other => vec![other.clone()],
        })
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let log = self.log_path();
        linli_tests::reap(&mut self.child, &mut self.dir, "prometheus", &log, 40);
    }
}

/// Replaces the Grafana variables of a dashboard expression with concrete values; an unknown
/// variable is an error.
fn grafana_vars(expr: &str) -> Result<String, String> {
    let value = |name: &str| -> Option<&str> {
        Some(match name {
            "__rate_interval" => "1m",
            "__interval" => "15s",
            "__interval_ms" => "15000",
            "__range" => "10m",
            "__range_s" => "600",
            "__range_ms" => "600000",
            "instance" => ".*",
            _ => return None,
        })
    };
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (name, len) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in `{expr}`"))?;
            let name = braced[..end].split(':').next().unwrap_or_default();
            (name, end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let v = value(name).ok_or_else(|| format!("unknown variable `${name}` in `{expr}`"))?;
        out.push_str(v);
        rest = &after[len..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The first sample value of a result, for the report.
fn first_value(results: &[Value]) -> String {
    results
        .first()
        .and_then(|r| r["value"][1].as_str().map(String::from))
        .unwrap_or_else(|| "-".into())
}

/// `linli-rules.yml` without its annotations: `promtool test rules` compares annotations
/// exactly, and the tests below are about when the alerts fire. (The annotations are checked
/// through the live Prometheus' /api/v1/rules.)
fn rules_without_annotations(rules: &str) -> String {
    let mut out = String::new();
    let mut skip_deeper_than: Option<usize> = None;
    for line in rules.lines() {
        let indent = line.len() - line.trim_start().len();
        if let Some(level) = skip_deeper_than {
            if line.trim().is_empty() || indent > level {
                continue;
            }
            skip_deeper_than = None;
        }
        if line.trim() == "annotations:" {
            skip_deeper_than = Some(indent);
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// `promtool test rules` cases: each alert fires when it should and not before.
const RULE_TESTS: &str = r#"rule_files:
  - linli-rules.yml
evaluation_interval: 15s
tests:
  - interval: 15s
    input_series:
      - series: 'up{job="linli",instance="hub:8080"}'
        values: '1 1 1 0x12'
      - series: 'linli_alarms_open{instance="hub:8080",class="care",severity="critical",status="open"}'
        values: '0 0 0 1x12'
      - series: 'linli_alarms_open{instance="hub:8080",class="care",severity="major",status="open"}'
        values: '2x15'
      - series: 'linli_mqtt_connected{instance="hub:8080"}'
        values: '1 1 1 0x12'
      - series: 'linli_outbox_oldest_seconds{instance="hub:8080"}'
        values: '0 0 0 400x12'
      - series: 'linli_store_size_bytes{instance="hub:8080"}'
        values: '1e9x15'
    alert_rule_test:
      - eval_time: 30s
        alertname: LinliHubDown
        exp_alerts: []
      - eval_time: 2m
        alertname: LinliHubDown
        exp_alerts:
          - exp_labels: {severity: critical, job: linli, instance: "hub:8080"}
      - eval_time: 1m
        alertname: LinliCriticalAlarmUnacknowledged
        exp_alerts: []
      - eval_time: 2m
        alertname: LinliCriticalAlarmUnacknowledged
        exp_alerts:
          - exp_labels: {severity: critical, class: care, instance: "hub:8080"}
      - eval_time: 1m
        alertname: LinliMqttDisconnected
        exp_alerts: []
      - eval_time: 2m
        alertname: LinliMqttDisconnected
        exp_alerts:
          - exp_labels: {severity: critical, instance: "hub:8080"}
      - eval_time: 2m
        alertname: LinliOutboxBacklogGrowing
        exp_alerts:
          - exp_labels: {severity: critical, cause: oldest_delivery, instance: "hub:8080"}
      - eval_time: 2m
        alertname: LinliStoreNearDiskLimit
        exp_alerts: []
  - interval: 1m
    input_series:
      - series: 'linli_messages_received_total{instance="hub:8080",channel="telemetry",class="care"}'
        values: '0+100x10 1000x20'
      - series: 'linli_devices{instance="hub:8080",class="care",state="online"}'
        values: '5x30'
      - series: 'linli_messages_rejected_total{instance="hub:8080",reason="malformed_json"}'
        values: '0+1x10 10x20'
      - series: 'linli_store_size_bytes{instance="hub:8080"}'
        values: '9e9x40'
      - series: 'linli_outbox_backlog{instance="hub:8080"}'
        values: '0+1x40'
      - series: 'linli_outbox_oldest_seconds{instance="hub:8080"}'
        values: '0x40'
    alert_rule_test:
      - eval_time: 10m
        alertname: LinliIngestStalled
        exp_alerts: []
      - eval_time: 10m
        alertname: LinliRejectRatioHigh
        exp_alerts: []
      - eval_time: 25m
        alertname: LinliIngestStalled
        exp_alerts:
          - exp_labels: {severity: major, instance: "hub:8080"}
      - eval_time: 10m
        alertname: LinliOutboxBacklogGrowing
        exp_alerts: []
      - eval_time: 35m
        alertname: LinliOutboxBacklogGrowing
        exp_alerts:
          - exp_labels: {severity: major, cause: backlog_growth, instance: "hub:8080"}
      - eval_time: 20m
        alertname: LinliStoreNearDiskLimit
        exp_alerts: []
      - eval_time: 35m
        alertname: LinliStoreNearDiskLimit
        exp_alerts:
          - exp_labels: {severity: warning, instance: "hub:8080"}
  - interval: 1m
    input_series:
      - series: 'linli_messages_received_total{instance="hub:8080",channel="telemetry",class="care"}'
        values: '0+100x20'
      - series: 'linli_messages_rejected_total{instance="hub:8080",reason="wrong_type"}'
        values: '0+10x20'
      - series: 'linli_messages_received_total{instance="quiet:8080",channel="telemetry",class="care"}'
        values: '0+1x20'
      - series: 'linli_messages_rejected_total{instance="quiet:8080",reason="wrong_type"}'
        values: '0+0.5x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: LinliRejectRatioHigh
        exp_alerts:
          - exp_labels: {severity: warning, instance: "hub:8080"}
"#;

#[test]
fn promtool_accepts_the_rules_and_the_example_config_and_the_alerts_fire_as_documented() {
    let promtool = tool("promtool");
    let dir = dashboards_dir().join("prometheus");
    let rules = rules_path();
    let out = run(
        Command::new(&promtool)
            .arg("check")
            .arg("rules")
            .arg(&rules),
        None,
        "promtool check rules linli-rules.yml",
    );
    assert!(out.contains("SUCCESS"), "{out}");
    // The example references the rule file relatively: check it from its own directory.
    let out = run(
        Command::new(&promtool)
            .current_dir(&dir)
            .args(["check", "config", "prometheus.yml"]),
        None,
        "promtool check config prometheus.yml",
    );
    assert!(out.contains("1 rule files found"), "{out}");

    let example = support::read(&dir.join("prometheus.yml"));
    for want in [
        "scrape_interval: 15s",
        "127.0.0.1:8080",
        "job_name: linli",
        "- linli-rules.yml",
    ] {
        assert!(example.contains(want), "prometheus.yml lacks `{want}`");
    }

    let tmp = temp_dir("linli-promtool-").unwrap();
    std::fs::write(
        tmp.path().join("linli-rules.yml"),
        rules_without_annotations(&support::read(&rules)),
    )
    .unwrap();
    std::fs::write(tmp.path().join("tests.yml"), RULE_TESTS).unwrap();
    let out = run(
        Command::new(&promtool)
            .current_dir(tmp.path())
            .args(["test", "rules", "tests.yml"]),
        None,
        "promtool test rules",
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

#[test]
fn every_dashboard_and_rule_expression_evaluates_against_a_live_hub() {
    let started = Instant::now();
    let promtool = tool("promtool");
    let hub = Hub::start();
    let fresh = hub.metrics_text();
    run(
        Command::new(&promtool).args(["check", "metrics"]),
        Some(&fresh),
        "promtool check metrics < GET /metrics (fresh hub)",
    );

    let rules = rules_path();
    let prom = Prometheus::start(hub.gw.http_port(), &rules);

    // Scraped at least once before the traffic, so that increase() sees it.
    wait_for_every(
        SETTLE,
        Duration::from_millis(250),
        "Prometheus to scrape the hub (up == 1)",
        || {
            prom.results(r#"up{job="linli"} == 1"#)
                .ok()
                .filter(|r| !r.is_empty())
        },
    )
    .unwrap();
    wait_for_every(
        SETTLE,
        Duration::from_millis(250),
        "the hub's series in Prometheus",
        || {
            prom.results("linli_messages_received_total")
                .ok()
                .filter(|r| !r.is_empty())
        },
    )
    .unwrap();

    let fed = hub.feed();
    let text = hub.metrics_text();
    run(
        Command::new(&promtool).args(["check", "metrics"]),
        Some(&text),
        "promtool check metrics < GET /metrics (fed hub)",
    );

    // The traffic, as Prometheus sees it.
    let must_have_data = [
        r#"up{job="linli"} == 1"#,
        "linli_messages_received_total",
        "sum(linli_messages_received_total) >= 20",
        r#"linli_alarms_raised_total{rule="sos",severity="critical"}"#,
        r#"linli_alarm_ack_seconds_count{class="care"} >= 1"#,
        r#"linli_messages_rejected_total{reason="malformed_json"} >= 1"#,
        "sum(increase(linli_messages_received_total[1m])) > 0",
        "sum(increase(linli_messages_rejected_total[1m])) > 0",
        r#"linli_alarms_open{class="care",severity="critical"} >= 1"#,
        r#"sum(linli_devices{state="online"}) > 0"#,
        "linli_messages_duplicate_total >= 1",
        "linli_sequence_gaps_total >= 1",
        "linli_build_info == 1",
        "process_resident_memory_bytes > 0",
    ];
    let mut missing = Vec::new();
    let waited = wait_for_every(
        SETTLE,
        Duration::from_millis(500),
        "the fed traffic in Prometheus",
        || {
            missing = must_have_data
                .iter()
                .filter(|e| !prom.results(e).is_ok_and(|r| !r.is_empty()))
                .copied()
                .collect();
            missing.is_empty().then_some(())
        },
    );
    assert!(
        waited.is_ok(),
        "no data in Prometheus for: {missing:#?}\n/metrics:\n{text}"
    );
    // rate() and increase() need two samples in their window: wait for a few more scrapes of
    // the series that appeared with the traffic.
    wait_for_every(
        SETTLE,
        Duration::from_millis(250),
        "three scrapes of the alarm series",
        || {
            let n = |e: &str| prom.results(e).is_ok_and(|r| !r.is_empty());
            (n("count_over_time(linli_alarm_ack_seconds_count[1m]) >= 3")
                && n("count_over_time(linli_alarms_raised_total[1m]) >= 3"))
            .then_some(())
        },
    )
    .unwrap();

    // Every dashboard expression parses and evaluates.
    let mut failures = Vec::new();
    let mut report = Vec::new();
    let mut with_data: BTreeSet<(String, String)> = BTreeSet::new();
    let mut count = 0;
    for (path, d) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let uid = d["uid"].as_str().unwrap_or_default().to_string();
        let mut any = false;
        for e in support::dashboard_exprs(&d) {
            count += 1;
            let expr = match grafana_vars(&e.expr) {
                Ok(x) => x,
                Err(why) => {
                    failures.push(format!("{file}: {}: {why}", e.place));
                    continue;
                }
            };
            match prom.results(&expr) {
                Ok(r) => {
                    report.push(format!(
                        "{:>3} series, first {:>12}  {}",
                        r.len(),
                        first_value(&r),
                        e.place
                    ));
                    if !r.is_empty() {
                        any = true;
                        with_data.insert((uid.clone(), e.panel_title.clone()));
                    }
                }
                Err(why) => failures.push(format!("{file}: {}: {why}\n    {expr}", e.place)),
            }
        }
        assert!(any, "no expression of {file} returned data");
        // The `instance` variable's query, as PromQL.
        for (var, q) in support::variable_queries(&d) {
            if let Some(inner) = q
                .strip_prefix("label_values(")
                .and_then(|s| s.rsplit_once(','))
                .map(|(m, _)| m.to_string())
            {
                match prom.results(&inner) {
                    Ok(r) if !r.is_empty() => {}
                    Ok(_) => failures.push(format!("{file}: variable `{var}`: `{inner}` is empty")),
                    Err(why) => failures.push(format!("{file}: variable `{var}`: {why}")),
                }
            }
        }
    }
    eprintln!("dashboard expressions ({count}):\n{}", report.join("\n"));
    assert!(
        failures.is_empty(),
        "{} dashboard expression(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for (uid, title) in [
        ("linli-overview", "Devices online"),
        ("linli-overview", "Open critical alarms"),
        ("linli-overview", "Open alarms by class and severity"),
        (
            "linli-overview",
            "Time to acknowledge, by role (p50 / p90, last hour)",
        ),
        ("linli-care", "Open care alarms"),
        ("linli-care", "SOS per day"),
        (
            "linli-care",
            "Time to acknowledge care alarms, by role (p50 / p90, last hour)",
        ),
        ("linli-facilities", "Facility and access devices by state"),
        ("linli-hub", "Ingest rate by channel"),
        ("linli-hub", "Rejects by reason"),
        ("linli-hub", "Reject ratio"),
        ("linli-hub", "Duplicates and sequence gaps"),
        ("linli-hub", "Store batch latency (p50 / p99)"),
        ("linli-hub", "Store size"),
        ("linli-hub", "Notifications by channel and outcome"),
        ("linli-hub", "Resident memory"),
        ("linli-hub", "CPU"),
    ] {
        assert!(
            with_data.contains(&(uid.to_string(), title.to_string())),
            "{uid} / {title}: no data"
        );
    }

    // Every rule loaded, evaluated without error, and runnable as a query.
    let rules_text = support::read(&rules);
    let declared = rules_text
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("- alert:") || t.starts_with("- record:")
        })
        .count();
    let mut loaded = Vec::new();
    wait_for_every(
        SETTLE,
        Duration::from_millis(250),
        "every rule to be evaluated",
        || {
            let v = prom.api("/api/v1/rules");
            loaded = v["data"]["groups"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
                .collect();
            (loaded.len() == declared && loaded.iter().all(|r| r["health"] != "unknown"))
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}: {declared} declared, loaded: {loaded:#?}"));
    let mut alert_names = BTreeSet::new();
    for r in &loaded {
        let name = r["name"].as_str().unwrap_or("?");
        assert_eq!(r["health"], "ok", "rule {name}: {r:#}");
        assert!(
            r["lastError"].as_str().unwrap_or_default().is_empty(),
            "rule {name}: {r:#}"
        );
        let query = r["query"].as_str().unwrap_or_default();
        if let Err(why) = prom.results(query) {
            failures.push(format!("rule {name}: {why}\n    {query}"));
        }
        if r["type"] == "alerting" {
            alert_names.insert(name.to_string());
            let severity = r["labels"]["severity"].as_str().unwrap_or_default();
            assert!(
                SEVERITIES.contains(&severity),
                "alert {name}: severity label `{severity}` is not one of {SEVERITIES:?}"
            );
            for a in ["summary", "description"] {
                assert!(
                    !r["annotations"][a]
                        .as_str()
                        .unwrap_or_default()
                        .trim()
                        .is_empty(),
                    "alert {name}: no {a} annotation"
                );
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} rule expression(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    for want in ALERTS {
        assert!(
            alert_names.contains(want),
            "no alert {want} in linli-rules.yml"
        );
    }

    // The fall alarm nobody acknowledged makes the critical-alarm alert pending (its `for` is
    // 60 s); nothing says the hub or its broker is down.
    let mut alerts = Value::Null;
    wait_for_every(
        SETTLE,
        Duration::from_millis(250),
        "LinliCriticalAlarmUnacknowledged to be pending",
        || {
            alerts = prom.api("/api/v1/alerts")["data"]["alerts"].clone();
            alerts
                .as_array()
                .into_iter()
                .flatten()
                .any(|a| {
                    a["labels"]["alertname"] == "LinliCriticalAlarmUnacknowledged"
                        && a["labels"]["class"] == "care"
                        && matches!(a["state"].as_str(), Some("pending" | "firing"))
                })
                .then_some(())
        },
    )
    .unwrap_or_else(|e| panic!("{e:#}; alerts: {alerts:#}"));
    for a in alerts.as_array().into_iter().flatten() {
        let name = a["labels"]["alertname"].as_str().unwrap_or_default();
        assert!(
            !matches!(
                name,
                "LinliHubDown" | "LinliMqttDisconnected" | "LinliIngestStalled"
            ),
            "unexpected alert: {a:#}"
        );
    }

    // Diagnostic for the report: the SOS counter's series appears only with the first SOS
    // (value 1), so increase() over a window that holds that first SOS reads 0.
    let sos = prom
        .results(r#"sum(increase(linli_alarms_raised_total{rule="sos"}[10m]))"#)
        .unwrap();
    eprintln!(
        "note: after one SOS ({}), increase(linli_alarms_raised_total{{rule=\"sos\"}}[10m]) = {}",
        fed.alarm_id,
        first_value(&sos)
    );
    eprintln!("end to end: {:.1?}", started.elapsed());
}
