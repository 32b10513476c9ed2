//! `linli`: the Linli edge daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use linli_gateway::config::Config;
use tracing::{error, info};

/// Linli (邻里): the edge hub of a smart residential community.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the hub.
    Run {
        /// The configuration file.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Check a configuration file and list every problem in it.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
    /// Publish a simulated community to a broker (deterministic with --seed).
    #[cfg(feature = "demo")]
    Simulate {
        /// The broker, `mqtt://HOST:PORT`.
        #[arg(long, default_value = "mqtt://127.0.0.1:1883")]
        broker: String,
        /// Site id (topic level).
        #[arg(long, default_value = "sunny-garden")]
        site: String,
        /// Households to simulate.
        #[arg(long, default_value_t = 2_000)]
        households: usize,
        /// Seed (the same seed gives the same community and traffic).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// Extra telemetry messages per second on top of the community's own traffic (load).
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
        /// Leave out the scripted incidents of the first minute.
        #[arg(long)]
        no_script: bool,
    },
    /// Run a whole simulated community on this machine: embedded broker, hub, simulator.
    #[cfg(feature = "demo")]
    Demo {
        /// Households to simulate.
        #[arg(long, default_value_t = 2_000)]
        households: usize,
        /// Simulator seed (the same seed gives the same community and traffic).
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Simulated seconds per real second.
        #[arg(long, default_value_t = 1.0)]
        speed: f64,
        /// HTTP listen address (default 127.0.0.1:8080, or a free port if taken).
        #[arg(long)]
        http: Option<std::net::SocketAddr>,
        /// Broker port (default 1883, or a free port if taken).
        #[arg(long)]
        mqtt_port: Option<u16>,
    },
}

fn main() -> ExitCode {
    linli_gateway::heap::limit_arenas();
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("LINLI_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new("info,rumqttd=warn,rumqttd::router::routing=off")
            }),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::CheckConfig { file } => match Config::load(&file) {
            Ok(c) => {
                println!(
                    "{}: ok (site {}, broker {}, {} configured device(s))",
                    file.display(),
                    c.site.id,
                    c.mqtt.url,
                    c.devices.len()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
        Command::Run { config } => run(&config),
        #[cfg(feature = "demo")]
        Command::Simulate {
            broker,
            site,
            households,
            seed,
            speed,
            rate,
            no_script,
        } => {
            let (host, port) = match linli_gateway::ingest::BrokerAddr::parse(&broker) {
                Ok(linli_gateway::ingest::BrokerAddr::Tcp { host, port }) => (host, port),
                _ => {
                    eprintln!("--broker: `{broker}` is not mqtt://HOST:PORT");
                    return ExitCode::from(2);
                }
            };
            let config = linli_sim::SimConfig {
                site,
                households,
                seed,
                scripted: !no_script,
                ..Default::default()
            };
            let community = linli_sim::Community::new(config, linli_gateway::now_ms());
            let target = linli_gateway::demo::Target {
                host,
                port,
                ready: None,
            };
            with_runtime(|trigger| async move {
                linli_gateway::demo::simulate(community, target, speed, rate, trigger.subscribe())
                    .await;
                Ok(())
            })
        }
        #[cfg(feature = "demo")]
        Command::Demo {
            households,
            seed,
            speed,
            http,
            mqtt_port,
        } => {
            let options = linli_gateway::demo::DemoOptions {
                households,
                seed,
                speed,
                http,
                mqtt_port,
            };
            with_runtime(|trigger| async move {
                linli_gateway::demo::run(options, trigger)
                    .await
                    .map_err(|e| e.to_string())
            })
        }
    }
}

fn run(path: &std::path::Path) -> ExitCode {
    let config = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    with_runtime(|trigger| async move {
        linli_gateway::app::run(config, trigger)
            .await
            .map_err(|e| e.to_string())
    })
}

/// Runs `job` on a multi-threaded runtime; SIGTERM or SIGINT fires its shutdown trigger.
fn with_runtime<F, Fut>(job: F) -> ExitCode
where
    F: FnOnce(std::sync::Arc<linli_gateway::shutdown::Trigger>) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async {
        let (trigger, _) = linli_gateway::shutdown::channel();
        let trigger = std::sync::Arc::new(trigger);
        let on_signal = trigger.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            info!("signal received; stopping");
            on_signal.fire();
        });
        match job(trigger).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                error!(error = %e, "linli stopped with an error");
                ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        error!("cannot install signal handlers");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}
