//! The binary's start-up failures: exit code and a message naming the key and the path.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers fail loudly

use std::path::Path;
use std::process::{Command, Output};

const IDENTITY: &str = "site = \"sg\"\ndevice_id = \"n1\"\nkind = \"care.sos_button\"\n";

fn run_with(config: &str) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(&path, config).unwrap();
    let out = node(&path);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out, stderr)
}

fn node(config: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_linli-node"))
        .arg(config)
        .env("RUST_LOG", "off")
        .output()
        .unwrap()
}

#[test]
fn a_missing_gpio_chip_is_named_with_its_config_key() {
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[pins]\nsos_button = {{ chip = \"/dev/linli-no-such-gpiochip\", line = 17, active_low = true }}\n"
    ));
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.trim(),
        "linli-node: pins.sos_button.chip: cannot open /dev/linli-no-such-gpiochip: No such file or directory"
    );
}

#[test]
fn a_missing_pin_after_good_ones_is_named_too() {
    // Every role is opened in turn; the first missing one is reported.
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[pins]\nwater_meter = {{ chip = \"/dev/linli-no-chip-2\", line = 3 }}\n"
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(
            "pins.water_meter.chip: cannot open /dev/linli-no-chip-2: No such file or directory"
        ),
        "{stderr}"
    );
}

#[test]
fn a_missing_i2c_bus_is_named_with_its_config_key() {
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[i2c]\nbus = \"/dev/linli-no-such-i2c\"\n"
    ));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stderr.trim(),
        "linli-node: i2c.bus: cannot open /dev/linli-no-such-i2c: No such file or directory"
    );
}

#[test]
fn a_file_that_is_not_a_gpio_chip_is_refused() {
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[pins]\ndoor = {{ chip = \"/dev/null\", line = 1 }}\n"
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("pins.door.chip: /dev/null is not a GPIO chip"),
        "{stderr}"
    );
}

#[test]
fn a_missing_battery_file_is_named() {
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[battery]\npath = \"/sys/linli-no-adc\"\n"
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("battery.path: cannot read /sys/linli-no-adc: No such file or directory"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_key_is_named_and_nothing_is_opened() {
    let (out, stderr) = run_with(&format!(
        "{IDENTITY}[pins]\nsos_button = {{ chip = \"/dev/linli-no-such-gpiochip\", line = 17, pull = \"up\" }}\n"
    ));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains(": pins.sos_button.pull: unknown field `pull`"),
        "{stderr}"
    );
    assert!(stderr.contains("(line 5)"), "{stderr}");
}

#[test]
fn every_config_problem_is_listed_at_once() {
    let (out, stderr) = run_with(
        "site = \"s g\"\ndevice_id = \"staff\"\nkind = \"care.pir\"\nheartbeat = \"0s\"\n",
    );
    assert_eq!(out.status.code(), Some(1));
    for key in ["site:", "device_id: `staff` is reserved", "heartbeat:"] {
        assert!(stderr.contains(key), "{key} in {stderr}");
    }
}

#[test]
fn a_missing_config_file_and_a_missing_argument() {
    let out = node(Path::new("/nonexistent/linli-node.toml"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read config /nonexistent/linli-node.toml")
    );
    let out = Command::new(env!("CARGO_BIN_EXE_linli-node"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: linli-node CONFIG.toml"));
}
