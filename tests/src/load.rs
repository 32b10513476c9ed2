//! Load generation: telemetry, events and heartbeats with per-device sequence numbers from many
//! virtual devices over QoS 1 connections, as fast as the broker acknowledges or at a fixed rate.
//!
//! Message `i` comes from device `i % devices` and is that device's `k = i / devices`-th message.
//! Its channel follows [`Mix`]; telemetry and events carry the device's sequence number, which
//! counts only those two channels (a heartbeat on `status` has none), so a device's sequence is
//! gap-free and the receiver can count loss and duplicates exactly ([`LoadOptions::expected`]).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use rumqttc::{AsyncClient, Event, EventLoop, MqttOptions, Packet, QoS};
use serde::Serialize;

/// What to send.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Broker host (keep it 127.0.0.1 in tests).
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Site id (second topic level).
    pub site: String,
    /// Virtual devices; message `i` comes from device `i % devices`.
    pub devices: u64,
    /// Messages in total.
    pub messages: u64,
    /// Messages per second; `None`: as fast as the broker acknowledges.
    pub rate: Option<f64>,
    /// Device id prefix: devices are `{prefix}{n:05}`.
    pub prefix: String,
    /// First sequence number of every device (to continue an earlier run).
    pub first_seq: u64,
    /// MQTT connections the devices are spread over (each device on one connection, so that
    /// its sequence numbers stay in order). Default 1.
    pub connections: u64,
    /// MQTT client id (suffixed `-{n}` per connection when there are several).
    pub client_id: String,
    /// Give up after this long.
    pub timeout: Duration,
    /// Which channel each message goes to. Default: telemetry only.
    pub mix: Mix,
}

/// The channel of a device's messages: every `heartbeat_every`-th is a `status` heartbeat, every
/// `event_every`-th of the others an event, the rest telemetry (0: never).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mix {
    /// Every n-th message of a device is an event (`motion`, `door_open`, `door_close`).
    pub event_every: u64,
    /// Every n-th message of a device is a heartbeat (`status`, no sequence number).
    pub heartbeat_every: u64,
}

impl Mix {
    /// Telemetry only.
    pub const TELEMETRY: Mix = Mix {
        event_every: 0,
        heartbeat_every: 0,
    };
    /// A community's mix: 2 % heartbeats, about 10 % events, the rest telemetry.
    pub const REALISTIC: Mix = Mix {
        event_every: 10,
        heartbeat_every: 50,
    };

    /// The channel of a device's `k`-th message (from 0).
    pub fn channel(&self, k: u64) -> LoadChannel {
        let every = |n: u64| n > 0 && k % n == n - 1;
        if every(self.heartbeat_every) {
            LoadChannel::Heartbeat
        } else if every(self.event_every) {
            LoadChannel::Event
        } else {
            LoadChannel::Telemetry
        }
    }

    /// Heartbeats among a device's messages `0..k`.
    fn heartbeats_before(&self, k: u64) -> u64 {
        match self.heartbeat_every {
            0 => 0,
            n => k / n,
        }
    }
}

/// The channel of one generated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LoadChannel {
    /// `telemetry`, with `seq`.
    Telemetry,
    /// `event`, with `seq`.
    Event,
    /// `status` heartbeat, without `seq`.
    Heartbeat,
}

/// Sequence numbers each device sent on telemetry and on events.
#[derive(Debug, Clone, Default)]
pub struct ExpectedSeqs {
    /// Device id → telemetry sequence numbers.
    pub telemetry: BTreeMap<String, BTreeSet<u64>>,
    /// Device id → event sequence numbers.
    pub events: BTreeMap<String, BTreeSet<u64>>,
    /// Heartbeats sent (they carry no sequence number).
    pub heartbeats: u64,
}

impl ExpectedSeqs {
    /// Telemetry and event messages expected.
    pub fn with_seq(&self) -> u64 {
        let n =
            |m: &BTreeMap<String, BTreeSet<u64>>| m.values().map(|s| s.len() as u64).sum::<u64>();
        n(&self.telemetry) + n(&self.events)
    }
}

impl LoadOptions {
    /// Defaults: 127.0.0.1, 100 devices, as fast as possible, sequence numbers from 1.
    pub fn new(port: u16, site: &str, messages: u64) -> LoadOptions {
        LoadOptions {
            host: "127.0.0.1".into(),
            port,
            site: site.into(),
            devices: 100,
            messages,
            rate: None,
            prefix: "load-".into(),
            first_seq: 1,
            connections: 1,
            client_id: format!("linli-loadgen-{}", std::process::id()),
            timeout: Duration::from_secs(600),
            mix: Mix::TELEMETRY,
        }
    }

    /// Device, channel and sequence number (`None` for a heartbeat) of message `i`.
    pub fn message(&self, i: u64) -> (u64, LoadChannel, Option<u64>) {
        let devices = self.devices.max(1);
        let (device, k) = (i % devices, i / devices);
        let channel = self.mix.channel(k);
        let seq = self.first_seq + k - self.mix.heartbeats_before(k);
        (
            device,
            channel,
            (channel != LoadChannel::Heartbeat).then_some(seq),
        )
    }

    /// The id of device `n`.
    pub fn device_id(&self, device: u64) -> String {
        format!("{}{device:05}", self.prefix)
    }

    /// Topic and payload of message `i`. Telemetry temperatures run from 20.0 to 34.9 °C, so a
    /// threshold at 30 is crossed by a third of them.
    pub fn encode(&self, i: u64) -> (String, String) {
        let (device, channel, seq) = self.message(i);
        let seq = seq.unwrap_or(0);
        let id = self.device_id(device);
        let base = format!("linli/{}/{id}", self.site);
        match channel {
            LoadChannel::Telemetry => (
                format!("{base}/telemetry"),
                format!(
                    "{{\"device_id\":\"{id}\",\"seq\":{seq},\"values\":{{\"temperature_c\":{:.1},\"humidity_pct\":{},\"battery_pct\":{}}}}}",
                    20.0 + (seq % 150) as f64 / 10.0,
                    40 + seq % 30,
                    100 - seq % 60,
                ),
            ),
            LoadChannel::Event => {
                let kind = ["motion", "door_open", "door_close"][(seq % 3) as usize];
                (
                    format!("{base}/event"),
                    format!(
                        "{{\"device_id\":\"{id}\",\"seq\":{seq},\"type\":\"{kind}\",\"data\":{{\"source\":\"load\"}}}}"
                    ),
                )
            }
            LoadChannel::Heartbeat => (
                format!("{base}/status"),
                format!(
                    "{{\"device_id\":\"{id}\",\"state\":\"online\",\"battery_pct\":{},\"rssi\":-70}}",
                    100 - i % 60
                ),
            ),
        }
    }

    /// What a receiver should end up with: every sequence number per device and channel.
    pub fn expected(&self) -> ExpectedSeqs {
        let mut out = ExpectedSeqs::default();
        for i in 0..self.messages {
            let (device, channel, seq) = self.message(i);
            let map = match (channel, seq) {
                (LoadChannel::Telemetry, Some(_)) => &mut out.telemetry,
                (LoadChannel::Event, Some(_)) => &mut out.events,
                _ => {
                    out.heartbeats += 1;
                    continue;
                }
            };
            map.entry(self.device_id(device)).or_default().extend(seq);
        }
        out
    }
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// Messages published.
    pub messages: u64,
    /// PUBACKs received.
    pub acked: u64,
    /// From the first publish to the last PUBACK.
    pub seconds: f64,
    /// `acked / seconds`.
    pub rate: f64,
    /// Connection errors seen.
    pub errors: u64,
}

/// Publishes the load and waits for every PUBACK.
pub async fn run(opts: &LoadOptions) -> Result<LoadReport> {
    let k = opts.connections.clamp(1, opts.devices.max(1));
    let mut shares: Vec<Vec<u64>> = vec![Vec::new(); k as usize];
    let devices = opts.devices.max(1);
    for i in 0..opts.messages {
        shares[((i % devices) % k) as usize].push(i);
    }
    let mut conns = Vec::new();
    for (n, share) in shares.into_iter().enumerate() {
        let client_id = match k {
            1 => opts.client_id.clone(),
            _ => format!("{}-{n}", opts.client_id),
        };
        conns.push(connect(opts, client_id).await.map(|c| (c, share))?);
    }
    let started = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|((client, eventloop), share)| {
            let opts = opts.clone();
            let rate = opts.rate.map(|r| r / k as f64);
            tokio::spawn(
                async move { publish(&opts, client, eventloop, share, rate, started).await },
            )
        })
        .collect();
    let (mut acked, mut errors) = (0, 0);
    for task in tasks {
        let (a, e) = task.await.context("publisher task")??;
        acked += a;
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(LoadReport {
        messages: opts.messages,
        acked,
        seconds,
        rate: acked as f64 / seconds.max(1e-9),
        errors,
    })
}

async fn connect(opts: &LoadOptions, client_id: String) -> Result<(AsyncClient, EventLoop)> {
    let mut options = MqttOptions::new(client_id, opts.host.clone(), opts.port);
    options
        .set_clean_session(true)
        .set_keep_alive(Duration::from_secs(30))
        .set_inflight(1_000)
        .set_max_packet_size(1 << 20, 1 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 1_000);
    // Connect first, so that the clock starts with the first publish.
    match tokio::time::timeout(Duration::from_secs(10), eventloop.poll()).await {
        Ok(Ok(Event::Incoming(Packet::ConnAck(_)))) => Ok((client, eventloop)),
        other => bail!("cannot connect to {}:{}: {other:?}", opts.host, opts.port),
    }
}

/// One connection's share: returns (acknowledged, connection errors).
async fn publish(
    opts: &LoadOptions,
    client: AsyncClient,
    mut eventloop: EventLoop,
    share: Vec<u64>,
    rate: Option<f64>,
    started: Instant,
) -> Result<(u64, u64)> {
    let total = share.len() as u64;
    let sender = {
        let opts = opts.clone();
        tokio::spawn(async move {
            for (n, i) in share.into_iter().enumerate() {
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(n as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let (topic, payload) = opts.encode(i);
                client
                    .publish(topic, QoS::AtLeastOnce, false, payload)
                    .await
                    .context("publish")?;
            }
            anyhow::Ok(client)
        })
    };
    let (mut acked, mut errors) = (0u64, 0u64);
    let deadline = started + opts.timeout;
    while acked < total {
        let event = tokio::time::timeout_at(deadline.into(), eventloop.poll())
            .await
            .with_context(|| format!("{acked} of {total} acknowledged in time"))?;
        match event {
            Ok(Event::Incoming(Packet::PubAck(_))) => acked += 1,
            Ok(_) => {}
            Err(e) => {
                errors += 1;
                if errors > 100 {
                    bail!("too many connection errors, last: {e}");
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    let client = sender.await.context("sender task")??;
    let _ = client.disconnect().await;
    let _ = tokio::time::timeout(Duration::from_millis(200), eventloop.poll()).await;
    Ok((acked, errors))
}

/// [`run`] on a fresh runtime of its own (for blocking callers).
pub fn run_blocking(opts: &LoadOptions) -> Result<LoadReport> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("build a runtime")?
        .block_on(run(opts))
}
