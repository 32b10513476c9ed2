//! `linli-node CONFIG.toml`: runs a Linli node on a Linux board.

use std::path::Path;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let mut args = std::env::args_os().skip(1);
    let (Some(path), None) = (args.next(), args.next()) else {
        eprintln!("usage: linli-node CONFIG.toml");
        return ExitCode::from(2);
    };
    match linli_node::run(Path::new(&path)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("linli-node: {e}");
            ExitCode::FAILURE
        }
    }
}
