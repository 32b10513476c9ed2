use super::*;
use linli_protocols::{Channel, DeviceTopic, Limits, decode};

fn run(seed: u64, households: usize) -> Vec<Outgoing> {
    let config = SimConfig {
        households,
        seed,
        ..SimConfig::default()
    };
    let mut c = Community::new(config, 1_000_000);
    let mut out = c.announces();
    for step in 1..=600 {
        out.extend(c.step(1_000_000 + step * 1_000));
    }
    out
}

#[test]
fn the_same_seed_gives_the_same_stream() {
    let a = run(7, 300);
    assert_eq!(a, run(7, 300));
    assert_ne!(a, run(8, 300));
    assert!(
        a.len() > 300,
        "ten minutes of a 300-household community says something: {}",
        a.len()
    );
}

#[test]
fn every_message_follows_the_contract() {
    let limits = Limits::default();
    for m in run(3, 200) {
        let t = DeviceTopic::parse("sunny-garden", &m.topic).unwrap();
        assert_ne!(t.channel, Channel::Cmd);
        decode(t.channel, t.device_id, &m.payload, &limits)
            .unwrap_or_else(|e| panic!("{}: {e}", m.topic));
    }
}

#[test]
fn a_demo_shows_incidents_in_the_first_half_minute() {
    let mut c = Community::new(
        SimConfig {
            households: 300,
            ..SimConfig::default()
        },
        0,
    );
    let mut text = String::new();
    for step in 1..=30 {
        for m in c.step(step * 1_000) {
            text.push_str(&String::from_utf8_lossy(&m.payload));
        }
    }
    for needle in [
        "\"sos\"",
        "\"access_denied\"",
        "\"door_forced\"",
        "\"water_leak\"",
        "\"level_pct\":12",
    ] {
        assert!(text.contains(needle), "{needle} missing");
    }
}

#[test]
fn households_and_devices_add_up() {
    let c = Community::new(
        SimConfig {
            households: 2_000,
            ..SimConfig::default()
        },
        0,
    );
    assert_eq!(c.households().len(), 2_000);
    let alone = c.households().iter().filter(|h| h.living_alone).count();
    assert!((150..350).contains(&alone), "{alone} living alone");
    let in_homes: usize = c.households().iter().map(|h| h.devices.len()).sum();
    assert_eq!(in_homes, 2 * 2_000 + 3 * alone);
    assert_eq!(
        c.devices()
            .iter()
            .filter(|d| d.kind == "access.gate")
            .count(),
        20
    );
}

#[test]
fn extra_load_is_contract_traffic_with_fresh_sequence_numbers() {
    let mut c = Community::new(
        SimConfig {
            households: 50,
            ..SimConfig::default()
        },
        0,
    );
    let extra = c.load(500, 1_000);
    assert_eq!(extra.len(), 500);
    let limits = Limits::default();
    for m in &extra {
        let t = DeviceTopic::parse("sunny-garden", &m.topic).unwrap();
        decode(t.channel, t.device_id, &m.payload, &limits).unwrap();
    }
    let mut again = Community::new(
        SimConfig {
            households: 50,
            ..SimConfig::default()
        },
        0,
    );
    assert_eq!(again.load(500, 1_000), extra, "deterministic");
}
