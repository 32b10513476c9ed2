//! The machine, the software and the commit a run measured.

use std::process::Command;

use linli_tests::workspace_root;

fn run(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(workspace_root())
        .output()
        .ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())?
        .trim()
        .to_string();
    Some(line)
}

fn cpuinfo_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

fn mem_total_gib() -> String {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            let kib: f64 = s
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))?
                .split_whitespace()
                .next()?
                .parse()
                .ok()?;
            Some(format!("{:.1} GiB", kib / 1024.0 / 1024.0))
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The markdown header: machine, date, commit, versions.
pub fn header(mode: &str, node_red: Option<&str>) -> String {
    let unknown = || "unknown".to_string();
    let commit = run("git", &["rev-parse", "--short", "HEAD"]).unwrap_or_else(unknown);
    let dirty = run("git", &["status", "--porcelain", "--untracked-files=no"]).is_some();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| unknown());
    let rows = [
        (
            "date (UTC)",
            run("date", &["-u", "+%Y-%m-%d %H:%M"]).unwrap_or_else(unknown),
        ),
        (
            "commit",
            format!(
                "{commit}{}",
                if dirty {
                    " (with uncommitted changes)"
                } else {
                    ""
                }
            ),
        ),
        ("mode", mode.to_string()),
        (
            "CPUs (nproc)",
            std::thread::available_parallelism().map_or_else(|_| unknown(), |n| n.to_string()),
        ),
        ("CPU", cpuinfo_model()),
        ("RAM", mem_total_gib()),
        ("load average at start", load),
        ("kernel", run("uname", &["-r"]).unwrap_or_else(unknown)),
        (
            "rustc",
            run("rustc", &["--version"]).unwrap_or_else(unknown),
        ),
        (
            "mosquitto",
            run("mosquitto", &["-h"]).unwrap_or_else(unknown),
        ),
        ("node", run("node", &["--version"]).unwrap_or_else(unknown)),
        ("Node-RED", node_red.unwrap_or("not run").to_string()),
    ];
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v])
        .collect();
    crate::report::table(&["", ""], &rows)
}
