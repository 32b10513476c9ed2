//! The results: one section per scenario, each with its goals, assembled into `RESULTS.md`.

use std::fmt::Write as _;

/// A goal of issue #8 and what this run measured against it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Goal {
    /// What is measured.
    pub name: String,
    /// The goal, as written.
    pub target: String,
    /// The figure measured.
    pub figure: String,
    /// Met or missed (`None`: not measured).
    pub met: Option<bool>,
}

impl Goal {
    /// A goal with its outcome.
    pub fn new(name: &str, target: &str, figure: String, met: bool) -> Goal {
        Goal {
            name: name.into(),
            target: target.into(),
            figure,
            met: Some(met),
        }
    }
}

/// One scenario's results.
#[derive(Debug, Clone)]
pub struct Section {
    /// Heading.
    pub title: String,
    /// Markdown: what was run and its tables.
    pub body: String,
    /// Goals it measured.
    pub goals: Vec<Goal>,
    /// Loss or duplicates seen anywhere in it (a correctness problem, not a speed one).
    pub loss_or_duplicates: bool,
}

impl Section {
    /// A section that could not be measured.
    pub fn failed(title: &str, error: &anyhow::Error) -> Section {
        Section {
            title: title.into(),
            body: format!("**Not measured**: the scenario failed:\n\n```text\n{error:#}\n```\n"),
            goals: Vec::new(),
            loss_or_duplicates: false,
        }
    }
}

/// A markdown table.
pub fn table(head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("| {} |\n|{}\n", head.join(" | "), "---|".repeat(head.len()));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
    out
}

/// `x` with one decimal.
pub fn f1(x: f64) -> String {
    format!("{x:.1}")
}

/// A rate, rounded to messages per second with thousands separated.
pub fn rate(x: f64) -> String {
    let n = x.round().max(0.0) as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A ratio with two decimals.
pub fn ratio(x: f64) -> String {
    format!("{x:.2}")
}

fn met(m: Option<bool>) -> &'static str {
    match m {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not measured",
    }
}

/// The whole `RESULTS.md`: machine, goals, sections, and notes on what dominates where a goal
/// was missed.
pub fn document(header: &str, sections: &[Section], notes: &str) -> String {
    let mut out = String::from("# Linli benchmark results\n\n");
    out.push_str("Written by `cargo run --release -p linli-bench -- all`; see `README.md` beside it for what each scenario does and how to read it.\n\n");
    out.push_str(header);
    out.push_str("\n## Goals\n\n");
    let rows: Vec<Vec<String>> = sections
        .iter()
        .flat_map(|s| s.goals.iter())
        .map(|g| {
            vec![
                g.name.clone(),
                g.target.clone(),
                g.figure.clone(),
                met(g.met).into(),
            ]
        })
        .collect();
    out.push_str(&table(&["figure", "goal", "measured", ""], &rows));
    if sections.iter().any(|s| s.loss_or_duplicates) {
        out.push_str("\n**Loss or duplicates were seen: see the scenarios below.**\n");
    } else {
        out.push_str("\nNo receiver (Linli, mosquitto_sub, Node-RED) lost or doubled a message in any scenario.\n");
    }
    for s in sections {
        let _ = write!(out, "\n## {}\n\n{}", s.title, s.body);
    }
    if !notes.is_empty() {
        out.push_str("\n## What dominates where a goal is missed\n\n");
        out.push_str(notes);
    }
    out
}
