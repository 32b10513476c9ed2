//! Load generation: telemetry with per-device sequence numbers from many virtual devices over one
//! QoS 1 connection, as fast as the broker acknowledges or at a fixed rate.

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
        }
    }

    /// Device and sequence number of message `i`.
    pub fn message(&self, i: u64) -> (u64, u64) {
        let devices = self.devices.max(1);
        (i % devices, self.first_seq + i / devices)
    }

    /// Topic and payload of a message.
    pub fn encode(&self, device: u64, seq: u64) -> (String, String) {
        (
            format!("linli/{}/{}{device:05}/telemetry", self.site, self.prefix),
            format!("{{\"seq\":{seq},\"values\":{{\"v\":{seq}}}}}"),
        )
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
    let mut shares: Vec<Vec<(u64, u64)>> = vec![Vec::new(); k as usize];
    for i in 0..opts.messages {
        let (device, seq) = opts.message(i);
        shares[(device % k) as usize].push((device, seq));
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
    share: Vec<(u64, u64)>,
    rate: Option<f64>,
    started: Instant,
) -> Result<(u64, u64)> {
    let total = share.len() as u64;
    let sender = {
        let opts = opts.clone();
        tokio::spawn(async move {
            for (i, (device, seq)) in share.into_iter().enumerate() {
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let (topic, payload) = opts.encode(device, seq);
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
