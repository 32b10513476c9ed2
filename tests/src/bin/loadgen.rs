//! `loadgen`: publishes QoS 1 messages with per-device sequence numbers from M virtual devices,
//! as fast as the broker acknowledges (or at `--rate`), then prints a JSON line with messages,
//! seconds and rate. `--mix realistic` sends heartbeats and events among the telemetry.
//!
//! ```text
//! cargo run -p linli-tests --bin loadgen -- --host 127.0.0.1 --port 1883 --site demo \
//!     --devices 100 --messages 100000 [--rate 5000] [--prefix load-] [--first-seq 1] \
//!     [--connections 1] [--mix telemetry|realistic]
//! ```

// Test tooling: argument errors end the program with a message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::ExitCode;

use linli_tests::load::{LoadOptions, Mix, run_blocking};

const USAGE: &str = "usage: loadgen --port P --site S --messages N [--host 127.0.0.1] \
                     [--devices M] [--rate R] [--prefix load-] [--first-seq 1] \
                     [--connections 1] [--mix telemetry|realistic]";

fn main() -> ExitCode {
    match parse(std::env::args().skip(1).collect()) {
        Ok(opts) => match run_blocking(&opts) {
            Ok(report) => {
                println!(
                    "{}",
                    serde_json::to_string(&report).expect("a report serializes")
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("loadgen: {e:#}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("loadgen: {e}\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn parse(args: Vec<String>) -> Result<LoadOptions, String> {
    let mut opts = LoadOptions::new(0, "", 0);
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err("help".into());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: `{v}` is not a number"))
        };
        match flag.as_str() {
            "--host" => opts.host = value,
            "--port" => {
                opts.port = u16::try_from(num(&value)?).map_err(|_| "--port: too large")?;
            }
            "--site" => opts.site = value,
            "--devices" => opts.devices = num(&value)?.max(1),
            "--messages" => opts.messages = num(&value)?,
            "--rate" => {
                let r: f64 = value.parse().map_err(|_| format!("--rate: `{value}`"))?;
                opts.rate = (r > 0.0).then_some(r);
            }
            "--prefix" => opts.prefix = value,
            "--first-seq" => opts.first_seq = num(&value)?,
            "--connections" => opts.connections = num(&value)?.max(1),
            "--mix" => {
                opts.mix = match value.as_str() {
                    "telemetry" => Mix::TELEMETRY,
                    "realistic" => Mix::REALISTIC,
                    other => return Err(format!("--mix: `{other}` (telemetry or realistic)")),
                }
            }
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if opts.port == 0 || opts.site.is_empty() || opts.messages == 0 {
        return Err("--port, --site and --messages are required".into());
    }
    Ok(opts)
}
