//! Finding the `linli` binary: the tests always run the current sources, so the binary is built
//! once per test process with the same cargo that runs the tests (`$CARGO`), unless `LINLI_BIN`
//! names one to use as is (a release build, say).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// The debug `linli` binary, built once per process from the current sources, or `LINLI_BIN`.
pub fn linli_bin() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    cached(&BIN, false)
}

/// Like [`linli_bin`], but a `--release` build (for performance measurements).
pub fn linli_bin_release() -> Result<PathBuf> {
    static BIN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    cached(&BIN, true)
}

/// `linli-gateway`'s `fill_store` example (fills a store for memory and disk measurements),
/// built once per process: the release build, or the debug one for a tiny store in a test (which
/// then needs no release build of the whole dependency tree).
pub fn fill_store_bin(release: bool) -> Result<PathBuf> {
    static BINS: [OnceLock<Result<PathBuf, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    BINS[usize::from(release)]
        .get_or_init(|| {
            build_target("--example", "fill_store", release).map_err(|e| format!("{e:#}"))
        })
        .clone()
        .map_err(anyhow::Error::msg)
}

fn cached(cell: &OnceLock<Result<PathBuf, String>>, release: bool) -> Result<PathBuf> {
    cell.get_or_init(|| locate(release).map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn locate(release: bool) -> Result<PathBuf> {
    if let Some(bin) = std::env::var_os("LINLI_BIN") {
        let bin = PathBuf::from(bin);
        if !bin.is_file() {
            bail!("LINLI_BIN={} is not a file", bin.display());
        }
        return Ok(bin);
    }
    build_target("--bin", "linli", release)
}

/// Builds one target of `linli-gateway` (`--bin linli`, `--example fill_store`) and returns the
/// executable cargo reports.
fn build_target(kind: &str, name: &str, release: bool) -> Result<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let root = crate::workspace_root();
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(&root).args([
        "build",
        "-p",
        "linli-gateway",
        kind,
        name,
        "--message-format=json-render-diagnostics",
    ]);
    if release {
        cmd.arg("--release");
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        cmd.arg("--target-dir").arg(target);
    }
    let out = cmd.output().with_context(|| {
        format!(
            "run {} build in {}",
            cargo.to_string_lossy(),
            root.display()
        )
    })?;
    if !out.status.success() {
        bail!(
            "building {name} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Cargo names the executable it produced; that covers any target-dir configuration.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let built = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from));
    let bin = match built {
        Some(bin) => bin,
        None => {
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map_or_else(|| root.join("target"), PathBuf::from);
            let profile = target.join(if release { "release" } else { "debug" });
            match kind {
                "--example" => profile.join("examples").join(name),
                _ => profile.join(name),
            }
        }
    };
    if !bin.is_file() {
        bail!("cargo built {name} but {} is not there", bin.display());
    }
    Ok(bin)
}
