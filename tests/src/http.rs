//! HTTP to the gateway (ureq, no proxy, 127.0.0.1 only) and Prometheus text parsing.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde_json::Value;

/// A small blocking HTTP client for one gateway.
#[derive(Debug, Clone)]
pub struct Http {
    agent: ureq::Agent,
    port: u16,
}

impl Http {
    /// A client for `http://127.0.0.1:{port}`.
    pub fn new(port: u16) -> Http {
        let config = ureq::Agent::config_builder()
            // Never through a proxy from the environment: all traffic stays on 127.0.0.1.
            .proxy(None)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build();
        Http {
            agent: ureq::Agent::new_with_config(config),
            port,
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Changes the port (the gateway moved).
    pub fn set_port(&mut self, port: u16) {
        self.port = port;
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// GET `path`: status and body text.
    pub fn get_text(&self, path: &str) -> Result<(u16, String)> {
        let url = self.url(path);
        let mut resp = self
            .agent
            .get(&url)
            .call()
            .with_context(|| format!("GET {url}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 * 1024 * 1024)
            .read_to_string()
            .with_context(|| format!("read the body of GET {url}"))?;
        Ok((status, body))
    }

    /// GET `path`: status and JSON body (`Value::Null` when the body is not JSON).
    pub fn get_status(&self, path: &str) -> Result<(u16, Value)> {
        let (status, body) = self.get_text(path)?;
        Ok((status, serde_json::from_str(&body).unwrap_or(Value::Null)))
    }

    /// GET `path` and parse JSON; a non-2xx answer is an error naming the status and body.
    pub fn get_json(&self, path: &str) -> Result<Value> {
        let (status, body) = self.get_text(path)?;
        if !(200..300).contains(&status) {
            bail!("GET {path}: HTTP {status}: {body}");
        }
        serde_json::from_str(&body).with_context(|| format!("GET {path}: not JSON: {body}"))
    }

    /// Follows `next` cursors of a list endpoint (`path` may already carry a query) and returns
    /// every item. Bounded: at most `max_pages` pages.
    pub fn get_all(&self, path: &str, max_pages: usize) -> Result<Vec<Value>> {
        let sep = if path.contains('?') { '&' } else { '?' };
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..max_pages {
            let page_path = match &after {
                None => path.to_string(),
                Some(a) => format!("{path}{sep}after={a}"),
            };
            let page = self.get_json(&page_path)?;
            let Some(list) = page["items"].as_array() else {
                bail!("GET {page_path}: no items array in {page}");
            };
            items.extend(list.iter().cloned());
            match &page["next"] {
                Value::Null => return Ok(items),
                Value::String(next) => after = Some(next.clone()),
                other => bail!("GET {page_path}: next is {other}, not a string or null"),
            }
        }
        bail!("GET {path}: more than {max_pages} pages")
    }

    /// GET `/metrics`, parsed.
    pub fn metrics(&self) -> Result<Metrics> {
        let (status, body) = self.get_text("/metrics")?;
        if status != 200 {
            bail!("GET /metrics: HTTP {status}: {body}");
        }
        Ok(Metrics::parse(&body))
    }
}

/// Prometheus text exposition, as series → value. A series is written as it appears, such as
/// `linli_messages_received_total{channel="telemetry"}`.
#[derive(Debug, Clone, Default)]
pub struct Metrics(pub BTreeMap<String, f64>);

impl Metrics {
    /// Parses the text format (comments skipped).
    pub fn parse(text: &str) -> Metrics {
        let series = text
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| {
                let (name, value) = l.rsplit_once(' ')?;
                Some((name.trim().to_string(), value.trim().parse().ok()?))
            })
            .collect();
        Metrics(series)
    }

    /// The value of a series, if present.
    pub fn get(&self, series: &str) -> Option<f64> {
        self.0.get(series).copied()
    }

    /// The value of a series, 0 when absent.
    pub fn value(&self, series: &str) -> f64 {
        self.get(series).unwrap_or(0.0)
    }

    /// The sum of the series of `name` whose label `label` is `value`, whatever their other
    /// labels (so that a label added later does not break a reader).
    pub fn labelled(&self, name: &str, label: &str, value: &str) -> f64 {
        self.series(name)
            .filter(|(labels, _)| labels.iter().any(|(k, v)| k == label && v == value))
            .map(|(_, v)| v)
            .sum()
    }

    /// The sum of every series of metric `name` (all label values).
    pub fn sum(&self, name: &str) -> f64 {
        self.series(name).map(|(_, v)| v).sum()
    }

    /// Every value of label `label` on metric `name`, with the sum of its series.
    pub fn by_label(&self, name: &str, label: &str) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (labels, v) in self.series(name) {
            if let Some((_, value)) = labels.iter().find(|(k, _)| k == label) {
                *out.entry(value.clone()).or_default() += v;
            }
        }
        out
    }

    /// The series of metric `name` exactly (not `name_bucket` and the like), with their labels.
    pub fn series<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (Vec<(String, String)>, f64)> + 'a {
        self.0.iter().filter_map(move |(k, v)| {
            let rest = k.strip_prefix(name)?;
            if rest.is_empty() {
                return Some((Vec::new(), *v));
            }
            let inner = rest.strip_prefix('{')?.strip_suffix('}')?;
            Some((parse_labels(inner), *v))
        })
    }
}

/// `a="x",b="y"` → [(a, x), (b, y)] (label values here never hold quotes or commas).
fn parse_labels(inner: &str) -> Vec<(String, String)> {
    inner
        .split("\",")
        .filter_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            Some((k.trim().to_string(), v.trim_matches('"').to_string()))
        })
        .collect()
}
