//! Wiring: open the store, start the stages, serve HTTP, stop them all on shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{error, info, warn};

use crate::alarms::{Book, Directory, Policy};
use crate::api::{self, ApiState};
use crate::config::Config;
use crate::devices::Registry;
use crate::ingest::{self, BrokerAddr, Session};
use crate::metrics::Metrics;
use crate::notify::{Console, Dispatch, LinkKey, Notifier, Publisher};
use crate::pipeline::{self, Pipeline};
use crate::rules::{Engine, Household};
use crate::shutdown::Trigger;
use crate::store::{Store, StoreError};

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The HTTP listener could not bind.
    #[error("cannot listen on {addr} ([http].listen): {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration asks for something this build cannot do.
    #[error("{0}")]
    Unsupported(String),
}

/// Runs the hub until `trigger` fires (or a stage fails, which fires it too).
pub async fn run(config: Config, trigger: std::sync::Arc<Trigger>) -> Result<(), RunError> {
    let config = Arc::new(config);
    let addr = match BrokerAddr::parse(&config.mqtt.url) {
        Ok(BrokerAddr::Tcp { host, port }) => (host, port),
        Ok(BrokerAddr::Embedded) => {
            return Err(RunError::Unsupported(
                "mqtt.url = \"embedded\" is not available in this build yet; point it at mosquitto"
                    .into(),
            ));
        }
        Err(e) => return Err(RunError::Unsupported(e)),
    };
    // One rustls crypto provider for every TLS client in the process (HTTPS, SMTP).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let store = Store::open(&config.store)?;
    info!(path = %config.store.path.display(), "store open");
    let link = Arc::new(LinkKey::new(&match &config.http.link_secret {
        Some(s) => s.as_bytes().to_vec(),
        None => {
            let fresh = crate::notify::link::random_secret().ok_or_else(|| {
                RunError::Unsupported(
                    "no system randomness for the acknowledgement-link key; set [http] link_secret"
                        .into(),
                )
            })?;
            store.secret("ack_links", || fresh)?
        }
    }));
    let console = Console::default();
    // Streamed into the registry (a Vec of 20,000 records first would double the peak); the
    // first read error stops the load and fails the start.
    let failed = std::cell::Cell::new(None);
    let registry = Registry::load(
        store.devices().map_while(until_error(&failed)),
        store.windows().map_while(until_error(&failed)),
        &config.devices,
        crate::now_ms(),
    );
    if let Some(e) = failed.into_inner() {
        return Err(e.into());
    }
    let metrics = Metrics::new();
    let session = Arc::new(Session::default());

    let listener = tokio::net::TcpListener::bind(config.http.listen)
        .await
        .map_err(|source| RunError::Bind {
            addr: config.http.listen,
            source,
        })?;
    info!(addr = %config.http.listen, "http listening");

    let (tx, rx) = mpsc::channel(ingest::INGEST_QUEUE);
    let (client, eventloop) = ingest::client(&config, &addr);
    let (clients_tx, clients_rx) = watch::channel(client);
    let mut tasks = JoinSet::new();

    let mut engine = Engine::new(
        crate::rules::merged(&config.rules),
        households(&config),
        crate::config::parse_utc_offset(&config.site.utc_offset).unwrap_or(8 * 3_600),
    );
    engine.restore_households(store.households()?);
    engine.restore_timers(store.rule_timers()?);
    zero_alarm_metrics(&metrics, &engine, &config);
    let open = store.open_alarms()?;
    info!(open = open.len(), "alarm book loaded");
    let book = Book::new(
        config.escalation.iter().map(Policy::from_config).collect(),
        Directory::from_config(&config),
        open,
        store.next_alarm_id()?,
    );
    let (changes, _) = tokio::sync::broadcast::channel(CHANGES);
    let outbox = Arc::new(tokio::sync::Notify::new());
    let (commands_tx, commands_rx) = mpsc::channel(pipeline::COMMAND_QUEUE);
    let worker = Pipeline {
        store: store.clone(),
        registry,
        engine,
        book,
        metrics: metrics.clone(),
        limits: linli_protocols::Limits {
            max_payload: config.mqtt.max_payload,
            ..Default::default()
        },
        site: config.site.id.clone(),
        clients: clients_rx,
        session: session.clone(),
        changes: changes.clone(),
        outbox: outbox.clone(),
    };
    let shutdown = trigger.subscribe();
    tasks.spawn(async move {
        let result = worker.run(rx, commands_rx, shutdown).await;
        if let Err(e) = &result {
            pipeline::fatal(e);
        }
        ("pipeline", result.is_ok())
    });
    let publisher = Publisher::new(
        format!("{}-notify", config.client_id()),
        &addr.0,
        addr.1,
        Duration::from_secs(5),
    );
    let dispatch = Dispatch::new(&config, link.clone(), publisher, console.clone())
        .map_err(RunError::Unsupported)?;
    let notifier = Notifier {
        store: store.clone(),
        metrics: metrics.clone(),
        wake: outbox,
        dispatch: Arc::new(dispatch),
    };
    let shutdown = trigger.subscribe();
    tasks.spawn(async move {
        notifier.run(shutdown).await;
        ("notifier", true)
    });
    let mqtt = ingest::run(
        config.clone(),
        addr,
        eventloop,
        tx,
        clients_tx,
        session.clone(),
        metrics.clone(),
        trigger.subscribe(),
    );
    tasks.spawn(async move {
        mqtt.await;
        ("mqtt", true)
    });
    tasks.spawn(retention(
        store.clone(),
        config.clone(),
        metrics.clone(),
        trigger.subscribe(),
    ));
    let router = api::router(ApiState::new(
        &config,
        store.clone(),
        metrics,
        session,
        commands_tx,
        changes,
        link,
        console,
    ));
    let mut http_shutdown = trigger.subscribe();
    tasks.spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move { http_shutdown.wait().await })
            .await;
        if let Err(e) = &served {
            error!(error = %e, "http server failed");
        }
        ("http", served.is_ok())
    });

    let mut failed = false;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((name, true)) => info!(task = name, "stopped"),
            Ok((name, false)) => {
                failed = true;
                error!(task = name, "failed; shutting down");
                trigger.fire();
            }
            Err(e) => {
                failed = true;
                error!(error = %e, "task panicked; shutting down");
                trigger.fire();
            }
        }
    }
    store.flush_sync()?;
    info!("store flushed; bye");
    if failed {
        return Err(RunError::Unsupported(
            "a stage failed; see the log above".into(),
        ));
    }
    Ok(())
}

/// Every (rule, severity) the engine can raise and every configured role start at zero.
fn zero_alarm_metrics(metrics: &Metrics, engine: &Engine, config: &Config) {
    use linli_protocols::Severity;
    let mut series: Vec<(&str, Severity)> = Vec::new();
    for rule in engine.rules() {
        series.push((&rule.name, rule.severity));
        if let crate::rules::Spec::Offline { care } = rule.spec {
            series.push((&rule.name, care));
        }
    }
    if !config.households.is_empty() {
        series.extend([
            ("inactivity", Severity::Major),
            ("low_water_use", Severity::Major),
        ]);
    }
    let mut roles: Vec<&str> = config
        .staff
        .iter()
        .flat_map(|s| s.roles.iter().map(|r| r.as_str()))
        .collect();
    roles.sort_unstable();
    roles.dedup();
    metrics.zero_alarms(series, &roles);
}

/// Alarm changes buffered for slow live-stream listeners.
const CHANGES: usize = 1_024;

fn households(config: &Config) -> Vec<Household> {
    let ms = |d: crate::config::Dur| u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX);
    config
        .households
        .iter()
        .map(|h| Household {
            id: h.id.clone(),
            place: h
                .location
                .as_ref()
                .map_or_else(Default::default, |l| linli_protocols::Place {
                    building: l.building.clone(),
                    unit: l.unit.clone(),
                    floor: l.floor,
                    room: l.room.clone(),
                }),
            living_alone: h.living_alone,
            devices: h.devices.clone(),
            inactivity_ms: ms(h.inactivity),
            water_window_ms: ms(h.water_window),
            min_water_m3: h.min_water_m3,
            quiet: h
                .quiet_hours
                .as_deref()
                .and_then(|q| crate::config::QuietHours::parse(q).ok()),
        })
        .collect()
}

/// Passes the `Ok` items on and keeps the first error in `failed`, for `map_while`.
fn until_error<T>(
    failed: &std::cell::Cell<Option<StoreError>>,
) -> impl Fn(Result<T, StoreError>) -> Option<T> + '_ {
    move |r| r.map_err(|e| failed.set(Some(e))).ok()
}

/// Deletes data past its retention once an hour; returns freed heap to the system once a
/// minute (see [`crate::heap`]).
async fn retention(
    store: Store,
    config: Arc<Config>,
    metrics: Metrics,
    mut shutdown: crate::shutdown::Shutdown,
) -> (&'static str, bool) {
    let mut every = tokio::time::interval(Duration::from_secs(3_600));
    let mut trim = tokio::time::interval(Duration::from_secs(60));
    trim.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return ("retention", true),
            _ = trim.tick() => {
                crate::heap::trim();
                continue;
            }
            _ = every.tick() => {}
        }
        let now = crate::now_ms();
        let cut = |d: crate::config::Dur| {
            now.saturating_sub(u64::try_from(d.0.as_millis()).unwrap_or(u64::MAX))
        };
        let (t, e) = (
            cut(config.store.telemetry_retention),
            cut(config.store.event_retention),
        );
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.retain(t, e)).await {
            Ok(Ok(done)) => {
                for (class, n) in [
                    ("telemetry", done.telemetry),
                    ("events", done.events),
                    ("alarms", done.alarms),
                    ("audit", done.audit),
                ] {
                    metrics
                        .retention_deleted
                        .with_label_values(&[class])
                        .inc_by(n);
                }
                info!(
                    telemetry = done.telemetry,
                    events = done.events,
                    alarms = done.alarms,
                    audit = done.audit,
                    "retention pass"
                );
            }
            Ok(Err(e)) => warn!(error = %e, "retention pass failed; will retry"),
            Err(e) => warn!(error = %e, "retention pass aborted"),
        }
        crate::heap::trim();
    }
}
