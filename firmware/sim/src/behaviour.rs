//! What each kind of device sends, when, and the incidents.

use linli_protocols::{Announce, Channel, DeviceTopic, Event, Location, Telemetry, Value, Values};
use rand::Rng;
use rand::rngs::StdRng;

use crate::layout::{Device, Household};
use crate::{Outgoing, SimConfig};

const MIN: u64 = 60_000;

/// Something unusual, scripted or random.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Incident {
    Sos(usize),
    Denials(usize),
    Forced(usize),
    Leak(usize),
    TankLow(usize),
    Quiet(usize),
    Dropout(usize),
}

fn values(pairs: &[(&str, Value)]) -> Values {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn num(v: f64) -> Value {
    Value::Number((v * 1_000.0).round() / 1_000.0)
}

fn topic(config: &SimConfig, d: &Device, channel: Channel) -> String {
    DeviceTopic::format(&config.site, &d.id, channel)
}

fn telemetry(config: &SimConfig, d: &mut Device, now: u64, pairs: &[(&str, Value)]) -> Outgoing {
    let t = Telemetry {
        ts: config.stamp.then_some(now),
        seq: Some(d.seq),
        values: values(pairs),
        device_id: None,
    };
    d.seq += 1;
    Outgoing {
        topic: topic(config, d, Channel::Telemetry),
        payload: serde_json::to_vec(&t).unwrap_or_default(),
        retain: false,
    }
}

fn event(config: &SimConfig, d: &mut Device, now: u64, kind: &str) -> Outgoing {
    let e = Event {
        ts: config.stamp.then_some(now),
        seq: Some(d.seq),
        kind: kind.into(),
        data: Values::new(),
        device_id: None,
    };
    d.seq += 1;
    Outgoing {
        topic: topic(config, d, Channel::Event),
        payload: serde_json::to_vec(&e).unwrap_or_default(),
        retain: false,
    }
}

/// The retained self-description of `d`.
pub(crate) fn announce(site: &str, d: &Device) -> Outgoing {
    let a = Announce {
        kind: d.kind.into(),
        model: Some("sim-1".into()),
        fw: Some("1.0.0".into()),
        location: Some(Location {
            building: Some(d.building.to_string()),
            unit: d.unit.map(|u| u.to_string()),
            floor: d.floor,
            room: d.room.clone(),
        }),
        heartbeat_s: Some(d.heartbeat_s),
        device_id: None,
    };
    Outgoing {
        topic: DeviceTopic::format(site, &d.id, Channel::Announce),
        payload: serde_json::to_vec(&a).unwrap_or_default(),
        retain: true,
    }
}

pub(crate) fn first_due(d: &Device, rng: &mut StdRng) -> u64 {
    rng.random_range(0..u64::from(d.heartbeat_s).min(60) * 1_000 + 1)
}

/// Local hour (UTC+8) of a simulated time.
fn hour(now: u64) -> u64 {
    (now / 3_600_000 + 8) % 24
}

fn active_hours(now: u64) -> bool {
    (7..22).contains(&hour(now))
}

/// A random wait with mean `mean_ms`, capped at the heartbeat so a device is never silent longer.
fn wait(rng: &mut StdRng, mean_ms: u64, d: &Device) -> u64 {
    let u: f64 = rng.random_range(0.001..1.0);
    let w = (-u.ln() * mean_ms as f64) as u64;
    w.clamp(1_000, u64::from(d.heartbeat_s) * 1_000)
}

fn battery(rng: &mut StdRng) -> Value {
    num(rng.random_range(70.0..100.0_f64).round())
}

/// The device's regular traffic at `now`: its messages and the wait until it speaks again.
pub(crate) fn tick(
    config: &SimConfig,
    d: &mut Device,
    now: u64,
    rng: &mut StdRng,
) -> (Vec<Outgoing>, Option<u64>) {
    if d.silent {
        return (Vec::new(), None);
    }
    let day = active_hours(now);
    let mut out = Vec::new();
    let next = match d.kind {
        "care.water_meter" => {
            if !d.quiet {
                d.level += if day {
                    rng.random_range(0.005..0.04)
                } else {
                    rng.random_range(0.0..0.004)
                };
            }
            let reading = num(d.level);
            let b = battery(rng);
            out.push(telemetry(
                config,
                d,
                now,
                &[("water_m3", reading), ("battery_pct", b)],
            ));
            30 * MIN
        }
        "care.pir" => {
            if d.quiet {
                let b = battery(rng);
                out.push(telemetry(config, d, now, &[("battery_pct", b)]));
                u64::from(d.heartbeat_s) * 1_000
            } else {
                out.push(event(config, d, now, "motion"));
                wait(rng, if day { 8 * MIN } else { 60 * MIN }, d)
            }
        }
        "care.door_contact" => {
            if !d.quiet && day && rng.random_bool(0.2) {
                out.push(event(config, d, now, "door_open"));
                out.push(event(config, d, now + 20_000, "door_close"));
            } else {
                let b = battery(rng);
                out.push(telemetry(config, d, now, &[("battery_pct", b)]));
            }
            wait(rng, 30 * MIN, d)
        }
        "care.sos_button" => {
            if rng.random_bool(0.0005) {
                out.push(event(config, d, now, "sos"));
            } else {
                let b = battery(rng);
                out.push(telemetry(config, d, now, &[("battery_pct", b)]));
            }
            u64::from(d.heartbeat_s) * 1_000
        }
        "access.gate" => {
            let h = hour(now);
            let peak = (7..9).contains(&h) || (17..19).contains(&h);
            let kind = if rng.random_bool(0.03) {
                "access_denied"
            } else if rng.random_bool(0.0003) {
                "door_forced"
            } else {
                "access_granted"
            };
            out.push(event(config, d, now, kind));
            wait(
                rng,
                if peak {
                    20_000
                } else if day {
                    90_000
                } else {
                    600_000
                },
                d,
            )
        }
        "facility.elevator" => {
            let floor = num(f64::from(rng.random_range(1..=18)));
            let load = num(rng.random_range(0.0..600.0_f64).round());
            out.push(telemetry(
                config,
                d,
                now,
                &[
                    ("floor", floor),
                    ("load_kg", load),
                    ("running", Value::Bool(rng.random_bool(0.4))),
                ],
            ));
            MIN
        }
        "facility.water_leak" => {
            let b = battery(rng);
            out.push(telemetry(
                config,
                d,
                now,
                &[("leak", Value::Bool(false)), ("battery_pct", b)],
            ));
            60 * MIN
        }
        "facility.water_tank" => {
            d.level = (d.level + rng.random_range(-1.0..1.0)).clamp(0.0, 100.0);
            let level = num(d.level.round());
            out.push(telemetry(config, d, now, &[("level_pct", level)]));
            20_000
        }
        "facility.hydrant" => {
            let p = num(rng.random_range(0.30..0.40));
            out.push(telemetry(config, d, now, &[("pressure_mpa", p)]));
            10 * MIN
        }
        "facility.manhole" => {
            let tilt = num(rng.random_range(0.0..2.0));
            out.push(telemetry(config, d, now, &[("tilt_deg", tilt)]));
            60 * MIN
        }
        "facility.air" => {
            let co2 = num(rng.random_range(420.0..900.0_f64).round());
            let pm = num(rng.random_range(5.0..60.0_f64).round());
            out.push(telemetry(config, d, now, &[("co2_ppm", co2), ("pm25", pm)]));
            5 * MIN
        }
        _ => {
            let b = battery(rng);
            out.push(telemetry(config, d, now, &[("battery_pct", b)]));
            u64::from(d.heartbeat_s) * 1_000
        }
    };
    // Rarely, a device drops out for good (flat battery, unplugged).
    if rng.random_bool(0.000_02) {
        d.silent = true;
    }
    (out, Some(next))
}

/// Scripted incidents of a demo, as (offset from start in ms, incident).
pub(crate) fn script(devices: &[Device], households: &[Household]) -> Vec<(u64, Incident)> {
    let find = |kind: &str, nth: usize| {
        devices
            .iter()
            .enumerate()
            .filter(|(_, d)| d.kind == kind)
            .nth(nth)
            .map(|(i, _)| i)
    };
    let alone: Vec<usize> = households
        .iter()
        .enumerate()
        .filter(|(_, h)| h.living_alone)
        .map(|(i, _)| i)
        .collect();
    let mut s = Vec::new();
    if let Some(&h) = alone.get(1) {
        s.push((0, Incident::Quiet(h)));
    }
    let steps = [
        (3_000, find("care.sos_button", 0).map(Incident::Sos)),
        (
            6_000,
            find("access.gate", 1)
                .or(find("access.gate", 0))
                .map(Incident::Denials),
        ),
        (9_000, find("access.gate", 0).map(Incident::Forced)),
        (12_000, find("facility.water_leak", 0).map(Incident::Leak)),
        (
            15_000,
            find("facility.water_tank", 0).map(Incident::TankLow),
        ),
        (
            20_000,
            find("facility.elevator", 2)
                .or(find("facility.elevator", 0))
                .map(Incident::Dropout),
        ),
    ];
    s.extend(steps.into_iter().filter_map(|(t, i)| i.map(|i| (t, i))));
    s
}

pub(crate) fn incident(
    config: &SimConfig,
    devices: &mut [Device],
    incident: Incident,
    now: u64,
) -> Vec<Outgoing> {
    match incident {
        Incident::Sos(i) => vec![event(config, &mut devices[i], now, "sos")],
        Incident::Denials(i) => (0..5)
            .map(|n| event(config, &mut devices[i], now + n * 2_000, "access_denied"))
            .collect(),
        Incident::Forced(i) => vec![event(config, &mut devices[i], now, "door_forced")],
        Incident::Leak(i) => vec![event(config, &mut devices[i], now, "water_leak")],
        Incident::TankLow(i) => {
            devices[i].level = 12.0;
            vec![telemetry(
                config,
                &mut devices[i],
                now,
                &[("level_pct", num(12.0))],
            )]
        }
        Incident::Quiet(h) => {
            for d in devices.iter_mut().filter(|d| d.household == Some(h)) {
                d.quiet = true;
            }
            Vec::new()
        }
        Incident::Dropout(i) => {
            devices[i].silent = true;
            Vec::new()
        }
    }
}

/// One extra telemetry message of `d` (load generation).
pub(crate) fn load(config: &SimConfig, d: &mut Device, now: u64) -> Outgoing {
    let reading = num(d.level);
    telemetry(
        config,
        d,
        now,
        &[("load", Value::Bool(true)), ("level", reading)],
    )
}
