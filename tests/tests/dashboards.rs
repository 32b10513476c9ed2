//! The Grafana dashboards of `dashboards/grafana/`: well-formed, every panel and target bound to
//! the `${datasource}` variable, and every metric they query exported by the hub. The set of
//! exported names is read from a real hub's `GET /metrics`, so the check cannot drift from the
//! code.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "metrics_support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::{Hub, check_name, dashboards, dashboards_dir, datasource_binding, families};

/// The dashboards the product ships, by uid.
const UIDS: [&str; 4] = [
    "linli-overview",
    "linli-care",
    "linli-facilities",
    "linli-hub",
];

/// Balanced `()`, `{}`, `[]` outside string literals.
fn balanced(expr: &str) -> bool {
    let mut stack = Vec::new();
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in expr.chars() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '\'' | '`' => quote = Some(c),
            '(' | '{' | '[' => stack.push(c),
            ')' | '}' | ']' => {
                let open = match c {
                    ')' => '(',
                    '}' => '{',
                    _ => '[',
                };
                if stack.pop() != Some(open) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && quote.is_none()
}

/// Problems with one dashboard.
fn problems(path: &str, d: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut bad = |m: String| out.push(format!("{path}: {m}"));
    let binding = datasource_binding();

    if d["schemaVersion"] != 39 {
        bad(format!("schemaVersion is {}, not 39", d["schemaVersion"]));
    }
    if !d["id"].is_null() {
        bad(format!(
            "id is {}; provisioned dashboards carry id null",
            d["id"]
        ));
    }
    let title = d["title"].as_str().unwrap_or_default();
    if title.trim().is_empty() {
        bad("no title".into());
    }

    // Variables: exactly one `datasource` of type datasource over Prometheus; every query
    // variable bound to it.
    let vars = d["templating"]["list"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ds: Vec<&Value> = vars.iter().filter(|v| v["name"] == "datasource").collect();
    match ds.as_slice() {
        [v] => {
            if v["type"] != "datasource" || v["query"] != "prometheus" {
                bad(format!(
                    "variable `datasource` must be type datasource, query prometheus: {v}"
                ));
            }
        }
        _ => bad(format!(
            "{} variables named `datasource`, want exactly one",
            ds.len()
        )),
    }
    for v in vars.iter().filter(|v| v["type"] == "query") {
        if v["datasource"] != binding {
            bad(format!(
                "variable `{}`: datasource {} is not {binding}",
                v["name"], v["datasource"]
            ));
        }
    }

    // Panels, rows and nested panels included.
    let all = support::panels(d);
    if all.iter().filter(|p| p["type"] != "row").count() < 4 {
        bad("fewer than 4 panels".into());
    }
    let mut ids = BTreeSet::new();
    for p in &all {
        let ptitle = p["title"].as_str().unwrap_or("?");
        let kind = p["type"].as_str().unwrap_or_default();
        let at = format!("panel `{ptitle}` ({kind})");
        if kind.is_empty() {
            bad(format!("{at}: no type"));
        }
        if ptitle.trim().is_empty() || ptitle == "?" {
            bad(format!("{at}: no title"));
        }
        match p["id"].as_u64() {
            Some(id) if ids.insert(id) => {}
            Some(id) => bad(format!("{at}: id {id} used twice")),
            None => bad(format!("{at}: no numeric id")),
        }
        if p["datasource"] != binding {
            bad(format!(
                "{at}: datasource {} is not {binding}",
                p["datasource"]
            ));
        }
        let g = &p["gridPos"];
        let (x, w, h) = (g["x"].as_u64(), g["w"].as_u64(), g["h"].as_u64());
        match (x, w, h, g["y"].as_u64()) {
            (Some(x), Some(w), Some(h), Some(_)) if w >= 1 && h >= 1 && x + w <= 24 => {}
            _ => bad(format!("{at}: bad gridPos {g}")),
        }
        if kind == "row" {
            let nested = p["panels"].as_array().map_or(0, Vec::len);
            if p["collapsed"] != true && nested > 0 {
                bad(format!(
                    "{at}: an expanded row holds {nested} panels (they belong at the top level)"
                ));
            }
            continue;
        }
        let targets = p["targets"].as_array().cloned().unwrap_or_default();
        if targets.is_empty() {
            bad(format!("{at}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in &targets {
            let r = t["refId"].as_str().unwrap_or_default();
            if r.is_empty() || !refs.insert(r.to_string()) {
                bad(format!("{at}: refId `{r}` empty or repeated"));
            }
            if t["datasource"] != binding {
                bad(format!(
                    "{at} / {r}: target datasource {} is not {binding}",
                    t["datasource"]
                ));
            }
            let expr = t["expr"].as_str().unwrap_or_default();
            if expr.trim().is_empty() {
                bad(format!("{at} / {r}: empty expr"));
            } else if !balanced(expr) {
                bad(format!("{at} / {r}: unbalanced brackets in `{expr}`"));
            }
        }
    }
    out
}

#[test]
fn dashboards_are_well_formed_and_bound_to_the_datasource_variable() {
    let boards = dashboards();
    let mut problems_found = Vec::new();
    let mut uids: BTreeMap<String, String> = BTreeMap::new();
    let mut titles = BTreeSet::new();
    for (path, d) in &boards {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let uid = d["uid"].as_str().unwrap_or_default().to_string();
        if uid.is_empty()
            || uid.len() > 40
            || !uid
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        {
            problems_found.push(format!(
                "{name}: uid `{uid}` is not a stable short slug (a-z, 0-9, -; at most 40)"
            ));
        }
        if let Some(other) = uids.insert(uid.clone(), name.clone()) {
            problems_found.push(format!("{name}: uid `{uid}` is also the uid of {other}"));
        }
        if !titles.insert(d["title"].as_str().unwrap_or_default().to_string()) {
            problems_found.push(format!("{name}: title {} used twice", d["title"]));
        }
        problems_found.extend(problems(&name, d));
    }
    for uid in UIDS {
        if !uids.contains_key(uid) {
            problems_found.push(format!("no dashboard with uid `{uid}`"));
        }
    }
    assert!(
        problems_found.is_empty(),
        "{} problem(s):\n{}",
        problems_found.len(),
        problems_found.join("\n")
    );
}

#[test]
fn provisioning_files_and_readme_describe_the_dashboards() {
    let dir = dashboards_dir();
    let ds = support::read(&dir.join("grafana/provisioning/datasources/prometheus.yml"));
    for want in [
        "apiVersion: 1",
        "type: prometheus",
        "url: http://127.0.0.1:9090",
        "editable: true",
    ] {
        assert!(
            ds.contains(want),
            "datasources/prometheus.yml lacks `{want}`"
        );
    }
    let provider = support::read(&dir.join("grafana/provisioning/dashboards/linli.yml"));
    for want in ["apiVersion: 1", "type: file", "path: "] {
        assert!(
            provider.contains(want),
            "dashboards/linli.yml lacks `{want}`"
        );
    }
    let readme = support::read(&dir.join("README.md"));
    for want in UIDS.iter().copied().chain([
        "/etc/grafana/provisioning",
        "linli-rules.yml",
        "prometheus.yml",
    ]) {
        assert!(
            readme.contains(want),
            "dashboards/README.md does not mention `{want}`"
        );
    }
}

/// What the dashboards need from a hub that has just started: a zero series for every alarm
/// counter and acknowledgement histogram they query, so that the first SOS after a start counts
/// in `increase(linli_alarms_raised_total{rule="sos"}[1d])` and the first acknowledgement in the
/// time-to-acknowledge quantiles. Without zero series both families would only appear with their first
/// event (the `prometheus` crate omits a vector with no children), so Prometheus would see the
/// counter start at 1 and `increase()` would read 0.
#[test]
fn a_fresh_hub_exports_zero_alarm_series() {
    let hub = Hub::start();
    let text = hub.metrics_text();
    for series in [
        "linli_alarms_raised_total{rule=\"sos\",severity=\"critical\"} 0",
        "linli_alarms_raised_total{rule=\"fall\",severity=\"critical\"} 0",
        "linli_alarm_ack_seconds_count{class=\"care\",role=\"none\"} 0",
    ] {
        assert!(
            text.contains(series),
            "{series} missing from a fresh hub:\n{text}"
        );
    }
}

#[test]
fn every_metric_the_dashboards_and_rules_query_is_exported_by_the_hub() {
    let hub = Hub::start();
    let fresh = families(&hub.metrics_text());
    hub.feed();
    let text = hub.metrics_text();
    let exported = families(&text);
    assert!(
        exported.keys().any(|n| n.starts_with("linli_"))
            && exported.keys().any(|n| n.starts_with("process_")),
        "GET /metrics carries no linli_ or process_ family:\n{text}"
    );
    let late: Vec<&String> = exported
        .keys()
        .filter(|n| !fresh.contains_key(*n))
        .collect();
    if !late.is_empty() {
        // Not a dashboard problem, but worth seeing: these families have no series (and so no
        // HELP/TYPE lines) until their first event, so rate()/increase() miss that event.
        eprintln!("note: families absent from a fresh hub's /metrics until fed: {late:?}");
    }
    let helped = support::helped(&text);
    for name in exported.keys() {
        assert!(helped.contains(name), "{name} has no # HELP line");
    }

    let mut bad = Vec::new();
    let mut used = BTreeSet::new();
    for (path, d) in dashboards() {
        let file = path.file_name().unwrap().to_string_lossy().to_string();
        let mut names_here = BTreeSet::new();
        for e in support::dashboard_exprs(&d) {
            for name in support::metric_names(&e.expr) {
                if let Err(why) = check_name(&name, &exported) {
                    bad.push(format!("{file}: {}: {why}\n    {}", e.place, e.expr));
                }
                names_here.insert(name);
            }
        }
        for (var, query) in support::variable_queries(&d) {
            for name in support::metric_names(&query) {
                if let Err(why) = check_name(&name, &exported) {
                    bad.push(format!("{file}: variable `{var}`: {why}\n    {query}"));
                }
            }
        }
        assert!(
            !names_here.is_empty(),
            "{file} queries no linli_/process_ metric"
        );
        used.extend(names_here);
    }
    let rules = support::read(&support::rules_path());
    for name in support::metric_names(&rules) {
        if let Err(why) = check_name(&name, &exported) {
            bad.push(format!("linli-rules.yml: {why}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} unknown metric use(s); the hub exports {:?}\n{}",
        bad.len(),
        exported,
        bad.join("\n")
    );

    // Every family of the hub is on some dashboard.
    let base = |n: &str| {
        for suffix in ["_bucket", "_sum", "_count"] {
            if let Some(b) = n.strip_suffix(suffix) {
                if exported.get(b).is_some_and(|t| t == "histogram") {
                    return b.to_string();
                }
            }
        }
        n.to_string()
    };
    let shown: BTreeSet<String> = used.iter().map(|n| base(n)).collect();
    let unshown: Vec<&String> = exported
        .keys()
        .filter(|n| n.starts_with("linli_") && !shown.contains(*n))
        .collect();
    assert!(
        unshown.is_empty(),
        "exported but on no dashboard: {unshown:?}"
    );
}
