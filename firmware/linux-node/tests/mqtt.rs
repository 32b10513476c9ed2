//! End to end against a real mosquitto: the node's retained announce and status, stamped
//! heartbeats the hub's decoder accepts, the last will on a crash, the goodbye on SIGTERM, and
//! sequence numbers that never repeat across restarts.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use linli_protocols::{DeviceTopic, Limits, Message, StatusState, Value, decode};
use rumqttc::{Client, Event, MqttOptions, Packet, QoS};

const WAIT: Duration = Duration::from_secs(15);

/// A process killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn mosquitto(dir: &Path) -> (Proc, u16) {
    let binary = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("mosquitto is not installed (apt-get install mosquitto)");
    let port = free_port();
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n"),
    )
    .unwrap();
    let child = Command::new(binary)
        .arg("-c")
        .arg(&conf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let proc = Proc(child);
    let deadline = Instant::now() + WAIT;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "mosquitto did not open port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    (proc, port)
}

fn start_node(config: &Path) -> Proc {
    let child = Command::new(env!("CARGO_BIN_EXE_linli-node"))
        .arg(config)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    Proc(child)
}

/// A subscriber to every topic of device `n1`.
struct Watcher {
    conn: rumqttc::Connection,
    _client: Client,
}

impl Watcher {
    fn new(port: u16) -> Self {
        let (client, conn) = Client::new(MqttOptions::new("watcher", "127.0.0.1", port), 64);
        client.subscribe("linli/sg/n1/#", QoS::AtLeastOnce).unwrap();
        Watcher {
            conn,
            _client: client,
        }
    }

    /// The next message on a device topic, decoded as the hub decodes it, with its retain flag.
    fn next(&mut self) -> (Message, bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "no message from the node within {WAIT:?}");
            if let Ok(Ok(Event::Incoming(Packet::Publish(p)))) = self.conn.recv_timeout(left) {
                let topic = DeviceTopic::parse("sg", &p.topic).unwrap();
                let m = decode(
                    topic.channel,
                    topic.device_id,
                    &p.payload,
                    &Limits::default(),
                )
                .unwrap_or_else(|e| panic!("hub refuses {}: {e}", p.topic));
                return (m, p.retain);
            }
        }
    }

    /// Messages until `pred` matches; returns that one and the sequence numbers seen.
    fn until(&mut self, pred: impl Fn(&Message) -> bool) -> (Message, Vec<u64>) {
        let mut seqs = Vec::new();
        loop {
            let (m, _) = self.next();
            seqs.extend(m.seq());
            if pred(&m) {
                return (m, seqs);
            }
        }
    }
}

fn is_status(m: &Message, state: StatusState) -> bool {
    matches!(m, Message::Status(s) if s.state == state)
}

fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig} {pid}");
}

fn config(dir: &Path, port: u16) -> PathBuf {
    let adc = dir.join("in_voltage0_raw");
    std::fs::write(&adc, "3800\n").unwrap();
    let path = dir.join("node.toml");
    std::fs::write(
        &path,
        format!(
            "site = \"sg\"\ndevice_id = \"n1\"\nkind = \"care.pir\"\n\
             broker = \"mqtt://127.0.0.1:{port}\"\nheartbeat = \"1s\"\n\
             state_file = \"{}\"\n\
             [location]\nbuilding = 3\nroom = \"502\"\n\
             [battery]\npath = \"{}\"\n",
            dir.join("node.state").display(),
            adc.display()
        ),
    )
    .unwrap();
    path
}

#[test]
fn announces_reports_and_leaves_a_last_will() {
    let dir = tempfile::tempdir().unwrap();
    let (_broker, port) = mosquitto(dir.path());
    let mut watch = Watcher::new(port);
    let config = config(dir.path(), port);

    let mut node = start_node(&config);
    let (m, _) = watch.until(|m| matches!(m, Message::Announce(_)));
    let Message::Announce(a) = m else {
        unreachable!()
    };
    assert_eq!(a.kind, "care.pir");
    assert_eq!(a.heartbeat_s, Some(1));
    assert_eq!(a.location.and_then(|l| l.building).as_deref(), Some("3"));
    let (m, first) = watch.until(|m| matches!(m, Message::Telemetry(_)));
    let Message::Telemetry(t) = m else {
        unreachable!()
    };
    assert_eq!(t.values.get("battery_pct"), Some(&Value::Number(60.0)));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert!(t.ts.is_some_and(|ts| ts.abs_diff(now) < 60_000), "{t:?}");
    let (_, more) = watch.until(|m| matches!(m, Message::Telemetry(_)));
    let mut seqs = [first, more].concat();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "{seqs:?}");

    // A crash: the broker publishes the retained last will.
    signal(node.0.id(), "-KILL");
    let (m, _) = watch.until(|m| is_status(m, StatusState::Offline));
    assert!(is_status(&m, StatusState::Offline));
    drop(node);

    // Restarted after the crash: back online, and no sequence number is reused.
    node = start_node(&config);
    let (_, before) = watch.until(|m| is_status(m, StatusState::Online));
    seqs.extend(before);
    let (_, after) = watch.until(|m| matches!(m, Message::Telemetry(_)));
    let last_before_crash = *seqs.last().unwrap();
    assert!(
        after.iter().all(|s| *s > last_before_crash),
        "{after:?} after {seqs:?}"
    );
    let last = *after.last().unwrap();

    // A clean stop: the goodbye is `offline`, retained, and the state file holds the next number.
    signal(node.0.id(), "-TERM");
    let (_, _) = watch.until(|m| is_status(m, StatusState::Offline));
    let deadline = Instant::now() + WAIT;
    let status = loop {
        if let Some(status) = node.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "the node did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let state = std::fs::read_to_string(dir.path().join("node.state")).unwrap();
    let next: u64 = state
        .lines()
        .find_map(|l| l.strip_prefix("next_seq = "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(next > last, "next_seq {next} after {last}");

    // The retained status a late subscriber sees is the goodbye.
    let mut late = Watcher::new(port);
    let (m, retained) = loop {
        let (m, retained) = late.next();
        if matches!(m, Message::Status(_)) {
            break (m, retained);
        }
    };
    assert!(is_status(&m, StatusState::Offline) && retained);
}
