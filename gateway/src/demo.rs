//! `linli demo`: a whole community on one machine. An in-process broker (rumqttd), the hub on a
//! temporary store, and the simulator publishing a community's traffic with a few incidents in the
//! first half minute. Production uses mosquitto or another broker; rumqttd is fine for a demo
//! (it has no shutdown API: it ends with the process).

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use linli_sim::{Community, SimConfig};
use rumqttc::{AsyncClient, MqttOptions, QoS};
use tracing::{info, warn};

use crate::config::{Config, ConfigError};
use crate::shutdown::{Shutdown, Trigger};

/// Demo logins: (staff id, role, areas, token).
pub const LOGINS: [(&str, &str, &str, &str); 3] = [
    ("wang", "caretaker", "building:1", "demo-caretaker-wang"),
    ("zhao", "property_duty", "*", "demo-duty-officer-zhao"),
    ("sun", "committee", "*", "demo-committee-sun"),
];

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Households to simulate.
    pub households: usize,
    /// Simulator seed.
    pub seed: u64,
    /// Simulated seconds per real second.
    pub speed: f64,
    /// HTTP address; default 127.0.0.1:8080, or a free port if taken.
    pub http: Option<SocketAddr>,
    /// Broker port; default 1883, or a free port if taken.
    pub mqtt_port: Option<u16>,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// No port could be had.
    #[error("cannot find a free port on 127.0.0.1: {0}")]
    Port(std::io::Error),
    /// The generated configuration is wrong (a bug).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The embedded broker failed.
    #[error("embedded broker: {0}")]
    Broker(String),
    /// The temporary store directory.
    #[error("cannot create the demo store at {path}: {source}")]
    Store {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The hub stopped with an error.
    #[error(transparent)]
    Hub(#[from] crate::app::RunError),
}

fn port(preferred: u16) -> Result<u16, DemoError> {
    if TcpListener::bind(("127.0.0.1", preferred)).is_ok() {
        return Ok(preferred);
    }
    let l = TcpListener::bind(("127.0.0.1", 0)).map_err(DemoError::Port)?;
    l.local_addr().map(|a| a.port()).map_err(DemoError::Port)
}

/// Runs the demo until `trigger` fires.
pub async fn run(options: DemoOptions, trigger: Arc<Trigger>) -> Result<(), DemoError> {
    let mqtt_port = match options.mqtt_port {
        Some(p) => p,
        None => port(1883)?,
    };
    let http = match options.http {
        Some(a) => a,
        None => SocketAddr::from(([127, 0, 0, 1], port(8080)?)),
    };
    start_broker(mqtt_port)?;
    let dir = std::env::temp_dir().join(format!("linli-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|source| DemoError::Store {
        path: dir.clone(),
        source,
    })?;

    let sim = SimConfig {
        households: options.households,
        seed: options.seed,
        ..SimConfig::default()
    };
    let start = crate::now_ms();
    let community = Community::new(sim, start);
    let text = config_text(&community, mqtt_port, http, &dir);
    let config = Config::parse(&text, &dir.join("demo.toml"))?;
    info!(
        households = options.households,
        devices = community.devices().len(),
        "community laid out"
    );

    let target = Target {
        host: "127.0.0.1".into(),
        port: mqtt_port,
        ready: Some(http),
    };
    let simulator = tokio::spawn(simulate(
        community,
        target,
        options.speed,
        0.0,
        trigger.subscribe(),
    ));
    let banner = tokio::spawn(banner(http, trigger.subscribe()));
    let result = crate::app::run(config, trigger.clone()).await;
    trigger.fire();
    let _ = simulator.await;
    banner.abort();
    if let Err(e) = std::fs::remove_dir_all(&dir) {
        warn!(path = %dir.display(), error = %e, "demo store not removed");
    }
    result.map_err(DemoError::from)
}

fn start_broker(port: u16) -> Result<(), DemoError> {
    let text = format!(
        "id = 0\n[router]\nid = 0\nmax_connections = 1010\nmax_outgoing_packet_count = 1000\n\
         max_segment_size = 104857600\nmax_segment_count = 10\n\
         [v4.1]\nname = \"v4-1\"\nlisten = \"127.0.0.1:{port}\"\nnext_connection_delay_ms = 1\n\
         [v4.1.connections]\nconnection_timeout_ms = 60000\nmax_payload_size = 1048576\n\
         max_inflight_count = 500\ndynamic_filters = true\n"
    );
    let config: rumqttd::Config =
        toml::from_str(&text).map_err(|e| DemoError::Broker(e.to_string()))?;
    let mut broker = rumqttd::Broker::new(config);
    std::thread::Builder::new()
        .name("rumqttd".into())
        .spawn(move || {
            if let Err(e) = broker.start() {
                tracing::error!(error = %e, "embedded broker stopped");
            }
        })
        .map_err(|e| DemoError::Broker(e.to_string()))?;
    // No readiness probe: a bare TCP probe makes rumqttd log an aborted connect. The hub and the
    // simulator connect with retries, so they simply wait for it.
    info!(port, "embedded broker starting");
    Ok(())
}

/// The demo's configuration, written as a person would write it and checked by the same loader.
fn config_text(
    community: &Community,
    mqtt_port: u16,
    http: SocketAddr,
    dir: &std::path::Path,
) -> String {
    let mut t = format!(
        "[site]\nid = \"sunny-garden\"\nname = \"阳光花园社区 (demo)\"\n\
         [mqtt]\nurl = \"mqtt://127.0.0.1:{mqtt_port}\"\n\
         [store]\npath = {:?}\ncache_mb = 16\n\
         [http]\nlisten = \"{http}\"\n",
        dir.join("store").display().to_string()
    );
    for (id, role, area, token) in LOGINS {
        let _ = write!(
            t,
            "[[staff]]\nid = \"{id}\"\nroles = [\"{role}\"]\nareas = [\"{area}\"]\ntoken = \"{token}\"\n"
        );
    }
    t.push_str(
        "[[escalation]]\nclasses = [\"care.*\"]\nsteps = [ { after = \"0s\", notify = [\"role:caretaker\"] },\n\
         { after = \"2m\", notify = [\"role:committee\"] } ]\nrepeat = \"5m\"\nack_timeout = \"30m\"\n",
    );
    let quiet = community
        .households()
        .iter()
        .filter(|h| h.living_alone)
        .nth(1)
        .map(|h| h.id.clone());
    for h in community.households().iter().filter(|h| h.living_alone) {
        let devices: Vec<String> = h.devices.iter().map(|d| format!("{d:?}")).collect();
        // The scripted quiet home shows the wellness check within minutes instead of 12 h.
        let window = if Some(&h.id) == quiet.as_ref() {
            "2m"
        } else {
            "12h"
        };
        let _ = write!(
            t,
            "[[household]]\nid = \"{}\"\nliving_alone = true\nresidents = [\"{}\"]\ndevices = [{}]\n\
             inactivity = \"{window}\"\nquiet_hours = \"23:00-06:00\"\n\
             location = {{ building = \"{}\", unit = \"{}\", room = \"{}\" }}\n",
            h.id,
            h.resident,
            devices.join(", "),
            h.building,
            h.unit,
            h.room
        );
    }
    t
}

/// Where the simulator publishes.
#[derive(Debug, Clone)]
pub struct Target {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// A hub to wait for (`/healthz` 200) before the first message.
    pub ready: Option<SocketAddr>,
}

/// True once the hub answers `GET /healthz` with 200 (store open, subscribed).
async fn healthy(http: SocketAddr) -> bool {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(http).await else {
        return false;
    };
    if s.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 16];
    matches!(s.read(&mut head).await, Ok(n) if head[..n].starts_with(b"HTTP/1.1 200") || head[..n].starts_with(b"HTTP/1.0 200"))
}

/// Publishes a simulated community to a broker until `shutdown` (`linli demo`, `linli simulate`).
/// `rate` adds that many telemetry messages per second on top of the community's own traffic.
pub async fn simulate(
    mut community: Community,
    target: Target,
    speed: f64,
    rate: f64,
    mut shutdown: Shutdown,
) {
    // Events published before the hub has subscribed would be lost (only announces are
    // retained): start the community once the hub answers.
    if let Some(http) = target.ready {
        for _ in 0..300 {
            if shutdown.is_triggered() || healthy(http).await {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let start = crate::now_ms();
    community.restart_clock(start);
    let mut options = MqttOptions::new(
        format!("linli-simulator-{}", std::process::id()),
        target.host,
        target.port,
    );
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 1_024);
    let driver = tokio::spawn(async move {
        loop {
            if let Err(e) = eventloop.poll().await {
                warn!(error = %e, "simulator connection");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    });
    for m in community.announces() {
        if client
            .publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload)
            .await
            .is_err()
        {
            break;
        }
    }
    let began = Instant::now();
    let mut every = tokio::time::interval(Duration::from_millis(100));
    let (mut sent, mut loaded) = (0u64, 0u64);
    loop {
        tokio::select! {
            _ = shutdown.wait() => break,
            _ = every.tick() => {}
        }
        let now = start + (began.elapsed().as_secs_f64() * speed * 1_000.0) as u64;
        // Extra load, paced in real time: what `rate` asks for by now, less what went out.
        let due = (began.elapsed().as_secs_f64() * rate) as u64;
        let extra = community.load(
            usize::try_from(due.saturating_sub(loaded)).unwrap_or(0),
            now,
        );
        loaded = due;
        for m in community.step(now).into_iter().chain(extra) {
            if client
                .publish(m.topic, QoS::AtLeastOnce, m.retain, m.payload)
                .await
                .is_err()
            {
                break;
            }
            sent += 1;
        }
    }
    info!(sent, "simulator stopped");
    let _ = client.disconnect().await;
    driver.abort();
}

async fn banner(http: SocketAddr, mut shutdown: Shutdown) {
    let url = format!("http://{http}");
    // Wait for the hub to answer before telling anyone to use it.
    for _ in 0..100 {
        if shutdown.is_triggered() {
            return;
        }
        if tokio::net::TcpStream::connect(http).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut text = format!(
        "\n  Linli demo: a simulated community is running.\n\n  Console  {url}/console/\n  API      {url}/api/v1/alarms\n  Metrics  {url}/metrics\n\n  Logins (sign in to the console with the token, or send Authorization: Bearer <token>):\n"
    );
    for (id, role, area, token) in LOGINS {
        let _ = writeln!(text, "    {id:<5} {role:<14} {area:<11} {token}");
    }
    let _ = write!(
        text,
        "\n  Try:  curl -H 'Authorization: Bearer {}' {url}/api/v1/alarms?status=open\n  Stop with Ctrl-C.\n",
        LOGINS[2].3
    );
    println!("{text}");
    shutdown.wait().await;
}
