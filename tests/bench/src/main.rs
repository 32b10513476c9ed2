//! `linli-bench`: runs the benchmark scenarios and writes `RESULTS.md`.
//!
//! ```text
//! cargo run --release -p linli-bench -- all            # every scenario → tests/bench/RESULTS.md
//! cargo run --release -p linli-bench -- ingest         # one scenario → target/bench-results/
//! cargo run --release -p linli-bench -- idle           # issue #2's bar: RSS over a 1 GB store
//! cargo run --release -p linli-bench -- all --quick    # a smoke run at tiny scale
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, ValueEnum};
use linli_bench::report::{Section, document};
use linli_bench::scenarios::{burst, idle, ingest, latency, memory, nodered};
use linli_bench::{Settings, machine, notes};
use linli_tests::{linli_bin, linli_bin_release, workspace_root};

/// Benchmarks of the Linli hub against mosquitto_sub and Node-RED, measured in one run.
#[derive(Debug, Parser)]
#[command(name = "linli-bench")]
struct Args {
    /// Which scenario(s) to run.
    #[arg(value_enum, default_value = "all")]
    scenario: Which,
    /// A smoke run at tiny scale: checks the plumbing, its figures mean nothing.
    #[arg(long)]
    quick: bool,
    /// Measure the debug build of linli (default: release; `LINLI_BIN` names any binary).
    #[arg(long)]
    debug: bool,
    /// Where to write the results (default: tests/bench/RESULTS.md for a full `all` run,
    /// target/bench-results/<scenario>[-quick].md otherwise).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Which {
    All,
    Ingest,
    Latency,
    Burst,
    Memory,
    Nodered,
    Idle,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linli-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let args = Args::parse();
    let linli = if args.debug {
        linli_bin()?
    } else {
        linli_bin_release()?
    };
    let settings = Settings::new(args.quick, linli.clone());
    let wants = |w: Which| args.scenario == Which::All || args.scenario == w;
    let mut sections = Vec::new();
    let mut node_red = None;
    if wants(Which::Ingest) {
        sections.push(scenario("1. Durable ingest ceiling", || {
            ingest::run(&settings).map(|r| ingest::section(&r))
        }));
    }
    if wants(Which::Latency) {
        sections.push(scenario("2. Alarm latency under load", || {
            latency::run(&settings).map(|r| latency::section(&r))
        }));
    }
    if wants(Which::Burst) {
        sections.push(scenario("3. Burst after an outage", || {
            burst::run(&settings).map(|r| burst::section(&r))
        }));
    }
    if wants(Which::Memory) {
        sections.push(scenario("4. Memory and disk", || {
            memory::run(&settings).map(|r| memory::section(&r))
        }));
    }
    if wants(Which::Nodered) {
        sections.push(scenario("5. Peer: Node-RED", || {
            nodered::run(&settings).map(|r| {
                node_red = Some(r.version.clone());
                nodered::section(&r)
            })
        }));
    }
    if wants(Which::Idle) {
        sections.push(scenario("6. Idle over a full store", || {
            idle::run(&settings).map(|r| idle::section(&r))
        }));
    }
    let mode = format!(
        "{}; linli {}",
        if args.quick {
            "quick (smoke run, figures not meaningful)"
        } else {
            "full"
        },
        linli.display()
    );
    let header = machine::header(&mode, node_red.as_deref());
    let doc = document(&header, &sections, &notes::for_missed(&sections));
    let out = args
        .out
        .unwrap_or_else(|| default_out(args.scenario, args.quick));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("create {}", parent.display()))?;
    }
    std::fs::write(&out, &doc).with_context(|| format!("write {}", out.display()))?;
    println!("{doc}");
    eprintln!("linli-bench: wrote {}", out.display());
    Ok(())
}

fn scenario(title: &str, f: impl FnOnce() -> Result<Section>) -> Section {
    let started = std::time::Instant::now();
    let section = f().unwrap_or_else(|e| {
        eprintln!("linli-bench: {title} failed: {e:#}");
        Section::failed(title, &e)
    });
    eprintln!("linli-bench: {title}: {:.0?}", started.elapsed());
    section
}

fn default_out(which: Which, quick: bool) -> PathBuf {
    let root = workspace_root();
    if which == Which::All && !quick {
        return root.join("tests").join("bench").join("RESULTS.md");
    }
    let name = format!(
        "{}{}.md",
        format!("{which:?}").to_lowercase(),
        if quick { "-quick" } else { "" }
    );
    root.join("target").join("bench-results").join(name)
}
