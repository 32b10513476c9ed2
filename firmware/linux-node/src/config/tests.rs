use std::path::Path;

use super::*;

const MINIMAL: &str = r#"
site = "sunny-garden"
device_id = "sos-502"
kind = "care.sos_button"
"#;

fn parse_err(extra: &str) -> ParseError {
    Config::parse(&format!("{MINIMAL}{extra}")).unwrap_err()
}

#[test]
fn the_example_parses_with_its_values() {
    let c = Config::parse(include_str!("../../linli-node.example.toml")).unwrap();
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    assert_eq!(c.device_id, "flat-3-2-502");
    let sos = c.pins.sos_button.as_ref().unwrap();
    assert_eq!(
        (sos.chip.as_path(), sos.line, sos.polarity()),
        (Path::new("/dev/gpiochip0"), 17, Polarity::ActiveLow)
    );
    assert_eq!(
        c.pins.pir.as_ref().unwrap().polarity(),
        Polarity::ActiveHigh
    );
    assert_eq!(c.heartbeat, Dur(Duration::from_secs(60)));
    assert_eq!(c.water_meter.start_m3, 123.456);
    let loc = Location::from(c.location.as_ref().unwrap());
    assert_eq!(
        (loc.building.as_deref(), loc.floor, loc.room.as_deref()),
        (Some("3"), Some(5), Some("502"))
    );
    assert_eq!(c.i2c.unwrap().bus, PathBuf::from("/dev/i2c-1"));
}

#[test]
fn a_minimal_file_takes_the_defaults() {
    let c = Config::parse(MINIMAL).unwrap();
    assert!(c.problems().is_empty());
    assert_eq!(c.broker, "mqtt://127.0.0.1:1883");
    assert_eq!(c.client_id(), "linli-node-sos-502");
    assert_eq!(c.model, "linli-node");
    assert_eq!(
        (c.heartbeat.0, c.poll.0),
        (Duration::from_secs(60), Duration::from_millis(10))
    );
    assert_eq!(c.pir.holdoff.0, Duration::from_secs(30));
    assert_eq!(c.water_meter, WaterMeterConfig::default());
    assert!(c.pins.named().is_empty());
    assert_eq!((c.i2c, c.battery, c.state_file), (None, None, None));
}

#[test]
fn unknown_keys_are_rejected_with_the_key_named() {
    let e = parse_err("colour = \"red\"\n");
    assert_eq!(e.key, "colour");
    assert!(
        e.message.starts_with("unknown field `colour`"),
        "{}",
        e.message
    );
    assert_eq!(e.line, Some(5));

    let e = parse_err(
        "[pins]\nsos_button = { chip = \"/dev/gpiochip0\", line = 17, activ_low = true }\n",
    );
    assert_eq!(e.key, "pins.sos_button.activ_low");
    assert_eq!(e.line, Some(6));

    let e = parse_err("[pins]\ndoorbell = { chip = \"/dev/gpiochip0\", line = 4 }\n");
    assert_eq!(e.key, "pins.doorbell");

    let e = parse_err("[location]\nstreet = \"Main\"\n");
    assert_eq!(e.key, "location.street");
}

#[test]
fn wrong_values_name_their_key() {
    let e = parse_err("heartbeat = \"soon\"\n");
    assert_eq!(e.key, "heartbeat");
    assert!(
        e.message.contains("invalid duration `soon`"),
        "{}",
        e.message
    );

    let e = parse_err("[pins]\ndoor = { chip = \"/dev/gpiochip0\" }\n");
    assert_eq!(e.key, "pins.door");
    assert!(e.message.contains("missing field `line`"), "{}", e.message);

    let e = parse_err("[battery]\npath = \"/x\"\ncurve = \"nicd\"\n");
    assert_eq!(e.key, "battery.curve");

    let e = Config::parse("site = \"a\"\ndevice_id = \"b\"\n").unwrap_err();
    assert!(e.message.contains("missing field `kind`"), "{}", e.message);

    let e = Config::parse("site = [").unwrap_err();
    assert_eq!(e.line, Some(1));
}

#[test]
fn every_semantic_problem_is_listed() {
    let c = Config::parse(
        r#"
site = "sunny garden"
device_id = "hub"
kind = "SOS"
broker = "tcp://x"
poll = "0ms"
[water_meter]
litres_per_pulse = 0.0
[pins]
sos_button = { chip = "/dev/gpiochip0", line = 17 }
door = { chip = "/dev/gpiochip0", line = 17 }
smoke_alarm = { chip = "/dev/gpiochip0", line = 5 }
"#,
    )
    .unwrap();
    let p = c.problems();
    let keys: Vec<&str> = p.iter().map(|s| s.split(':').next().unwrap()).collect();
    assert_eq!(
        keys,
        [
            "site",
            "device_id",
            "kind",
            "broker",
            "poll",
            "water_meter.litres_per_pulse",
            "pins",
            "pins.door"
        ],
        "{p:?}"
    );
    assert!(p[1].contains("reserved"));
}

#[test]
fn a_missing_file_and_a_bad_file_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("cannot read config {}", path.display())),
        "{e}"
    );
    std::fs::write(
        &path,
        format!("{MINIMAL}[i2c]\nbus = \"/dev/i2c-1\"\nspeed = 4\n"),
    )
    .unwrap();
    let e = Config::load(&path).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "config {}: i2c.speed: unknown field `speed`",
            path.display()
        )),
        "{e}"
    );
    assert!(e.ends_with("(line 7)"), "{e}");
}

#[test]
fn durations_and_broker_urls() {
    assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
    assert_eq!(parse_duration("60s"), Some(Duration::from_secs(60)));
    assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
    assert_eq!(parse_duration("12h"), Some(Duration::from_secs(43_200)));
    for bad in ["", "s", "10", "1.5s", "-1s", "10 parsecs"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
    assert_eq!(
        broker_address("mqtt://127.0.0.1:1883"),
        Ok(("127.0.0.1".into(), 1883))
    );
    assert_eq!(
        broker_address("mqtt://hub.local"),
        Ok(("hub.local".into(), 1883))
    );
    assert!(broker_address("mqtt://hub:99999").is_err());
    assert!(broker_address("mqtts://hub").is_err());
    assert!(broker_address("mqtt://").is_err());
}
