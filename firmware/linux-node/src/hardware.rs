//! Opens the configured pins and buses and polls them through the `linli-devices` drivers.
//!
//! Opening fails with the config key and the device path at fault, so a node started on the
//! wrong board says exactly what is missing. Once running, a failing read is logged once per
//! input (and its recovery once), and the other inputs go on.

use std::collections::BTreeSet;
use std::fmt;
use std::fs::OpenOptions;
use std::io;
use std::path::{Path, PathBuf};

use linli_devices::battery::BatteryAdc;
use linli_devices::{
    Battery, Climate, DoorContact, Indicator, MotionSensor, Pattern, Signal, SmokeDetector,
    SosButton, WaterMeter,
};
use linli_protocols::Value;
use linux_embedded_hal::gpio_cdev::{Chip, LineRequestFlags};
use linux_embedded_hal::{CdevPin, Delay, I2cdev};
use tracing::{info, warn};

use crate::config::{BatteryConfig, Config, PinConfig};

/// How long the LED blinks after an SOS: reassurance that the alarm went out.
const SOS_BLINK_MS: u64 = 30_000;

/// A pin, bus or file that could not be opened: the config key, what failed and why.
#[derive(Debug, thiserror::Error)]
#[error("{key}: {what}: {reason}")]
pub struct HardwareError {
    /// The config key naming the device, e.g. `pins.sos_button.chip`.
    pub key: String,
    /// What was attempted, with the device path.
    pub what: String,
    /// The operating system's reason.
    pub reason: String,
}

impl HardwareError {
    fn new(key: impl Into<String>, what: impl Into<String>, err: &dyn std::error::Error) -> Self {
        HardwareError {
            key: key.into(),
            what: what.into(),
            reason: reason(err),
        }
    }
}

/// The message of `err`, without Rust's ` (os error N)` suffix.
fn reason(err: &dyn std::error::Error) -> String {
    let text = err.to_string();
    match text.rsplit_once(" (os error ") {
        Some((message, _)) => message.to_string(),
        None => text,
    }
}

/// Checks that `path` can be opened, so that the error names the file rather than an ioctl.
fn check_open(key: &str, path: &Path, write: bool) -> Result<(), HardwareError> {
    OpenOptions::new()
        .read(true)
        .write(write)
        .open(path)
        .map(drop)
        .map_err(|e| HardwareError::new(key, format!("cannot open {}", path.display()), &e))
}

fn open_pin(name: &str, pin: &PinConfig, output: bool) -> Result<CdevPin, HardwareError> {
    let chip_key = format!("pins.{name}.chip");
    let line_key = format!("pins.{name}.line");
    let chip_path = pin.chip.display();
    check_open(&chip_key, &pin.chip, false)?;
    let mut chip = Chip::new(&pin.chip).map_err(|e| {
        HardwareError::new(&chip_key, format!("{chip_path} is not a GPIO chip"), &e)
    })?;
    let line = chip.get_line(pin.line).map_err(|e| {
        HardwareError::new(
            &line_key,
            format!("no line {} on {chip_path}", pin.line),
            &e,
        )
    })?;
    let flags = if output {
        LineRequestFlags::OUTPUT
    } else {
        LineRequestFlags::INPUT
    };
    // Requested without the kernel's ACTIVE_LOW flag: the drivers apply the polarity.
    let handle = line.request(flags, 0, "linli-node").map_err(|e| {
        HardwareError::new(
            &line_key,
            format!("cannot request line {} of {chip_path}", pin.line),
            &e,
        )
    })?;
    CdevPin::new(handle).map_err(|e| {
        HardwareError::new(
            &line_key,
            format!("cannot read line {} of {chip_path}", pin.line),
            &e,
        )
    })
}

/// A battery voltage from a sysfs file holding one integer (an IIO channel's `_raw`).
#[derive(Debug)]
pub struct SysfsAdc {
    path: PathBuf,
    mv_per_unit: f64,
}

impl BatteryAdc for SysfsAdc {
    type Error = io::Error;
    fn read_mv(&mut self) -> Result<u16, io::Error> {
        let text = std::fs::read_to_string(&self.path)?;
        let raw: f64 = text.trim().parse().map_err(|_| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("not a number: {text:?}"),
            )
        })?;
        let mv = (raw * self.mv_per_unit)
            .round()
            .clamp(0.0, f64::from(u16::MAX));
        // In range after the clamp.
        Ok(mv as u16)
    }
}

fn open_battery(b: &BatteryConfig) -> Result<Battery<SysfsAdc>, HardwareError> {
    let mut adc = SysfsAdc {
        path: b.path.clone(),
        mv_per_unit: b.mv_per_unit,
    };
    adc.read_mv().map_err(|e| {
        HardwareError::new(
            "battery.path",
            format!("cannot read {}", b.path.display()),
            &e,
        )
    })?;
    Ok(Battery::new(adc, b.curve.curve()))
}

/// A sensor read every `interval_ms`.
#[derive(Debug)]
struct Every<S> {
    sensor: S,
    interval_ms: u64,
    next_ms: u64,
}

impl<S> Every<S> {
    fn new(sensor: S, interval_ms: u64) -> Self {
        Every {
            sensor,
            interval_ms,
            next_ms: 0,
        }
    }

    /// The sensor when a reading is due at `now_ms`.
    fn due(&mut self, now_ms: u64) -> Option<&mut S> {
        if now_ms < self.next_ms {
            return None;
        }
        self.next_ms = now_ms.saturating_add(self.interval_ms);
        Some(&mut self.sensor)
    }
}

/// What one poll found.
#[derive(Debug, Default, PartialEq)]
pub struct Sample {
    /// Driver signals, to become events.
    pub signals: Vec<Signal>,
    /// Fresh readings, by value name.
    pub values: Vec<(&'static str, Value)>,
}

/// Every configured input and output.
pub struct Hardware {
    sos: Option<SosButton<CdevPin>>,
    led: Option<Indicator<CdevPin>>,
    door: Option<DoorContact<CdevPin>>,
    pir: Option<MotionSensor<CdevPin>>,
    water: Option<WaterMeter<CdevPin>>,
    smoke: Option<SmokeDetector<CdevPin, CdevPin>>,
    climate: Option<Every<Climate<I2cdev>>>,
    battery: Option<Every<Battery<SysfsAdc>>>,
    /// The door state last reported as a value.
    door_open: Option<bool>,
    /// Inputs whose last read failed: logged once, until they recover.
    failing: BTreeSet<&'static str>,
}

impl fmt::Debug for Hardware {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The Linux pin and bus handles have no useful Debug; list what is present.
        f.debug_struct("Hardware")
            .field("sos", &self.sos.is_some())
            .field("led", &self.led.is_some())
            .field("door", &self.door.is_some())
            .field("pir", &self.pir.is_some())
            .field("water", &self.water.is_some())
            .field("smoke", &self.smoke.is_some())
            .field("climate", &self.climate.is_some())
            .field("battery", &self.battery.is_some())
            .finish()
    }
}

impl Hardware {
    /// Opens everything `config` names; the water register starts at `water_ml`.
    pub fn open(config: &Config, water_ml: u64) -> Result<Hardware, HardwareError> {
        let pins = &config.pins;
        let input = |name: &str, pin: &Option<PinConfig>| {
            pin.as_ref()
                .map(|p| open_pin(name, p, false).map(|h| (h, p.polarity())))
                .transpose()
        };
        let sos = input("sos_button", &pins.sos_button)?;
        let led = pins
            .led
            .as_ref()
            .map(|p| open_pin("led", p, true).map(|h| Indicator::new(h, p.polarity())))
            .transpose()?;
        let door = input("door", &pins.door)?;
        let pir = input("pir", &pins.pir)?;
        let water = input("water_meter", &pins.water_meter)?;
        let smoke_alarm = input("smoke_alarm", &pins.smoke_alarm)?;
        let smoke_test = input("smoke_test", &pins.smoke_test)?;
        let climate = match &config.i2c {
            Some(i2c) => {
                check_open("i2c.bus", &i2c.bus, true)?;
                let bus = I2cdev::new(&i2c.bus).map_err(|e| {
                    HardwareError::new("i2c.bus", format!("cannot open {}", i2c.bus.display()), &e)
                })?;
                Some(Every::new(Climate::new(bus), millis(i2c.interval.0)))
            }
            None => None,
        };
        let battery = match &config.battery {
            Some(b) => Some(Every::new(open_battery(b)?, millis(b.interval.0))),
            None => None,
        };
        let holdoff_ms = u32::try_from(config.pir.holdoff.0.as_millis()).unwrap_or(u32::MAX);
        let ml_per_pulse = (config.water_meter.litres_per_pulse * 1_000.0).round() as u32;
        Ok(Hardware {
            sos: sos.map(|(h, p)| SosButton::new(h, p)),
            led,
            door: door.map(|(h, p)| DoorContact::new(h, p)),
            pir: pir.map(|(h, p)| {
                MotionSensor::with_holdoff(h, p, linli_devices::pir::DEBOUNCE_MS, holdoff_ms)
            }),
            water: water.map(|(h, p)| WaterMeter::new(h, p, ml_per_pulse, water_ml)),
            smoke: smoke_alarm
                .zip(smoke_test)
                .map(|((a, ap), (t, tp))| SmokeDetector::new(a, ap, t, tp)),
            climate,
            battery,
            door_open: None,
            failing: BTreeSet::new(),
        })
    }

    /// The water register in millilitres, when a meter is attached.
    pub fn water_ml(&self) -> Option<u64> {
        self.water.as_ref().map(WaterMeter::total_ml)
    }

    /// The `water_m3` reading, when a meter is attached: known before the first poll.
    pub fn water_value(&self) -> Option<(&'static str, Value)> {
        let w = self.water.as_ref()?;
        Some(("water_m3", Value::Number(w.water_m3())))
    }

    /// Polls every input at `now_ms` and drives the LED.
    pub fn poll(&mut self, now_ms: u64) -> Sample {
        let mut s = Sample::default();
        if let Some(r) = self.sos.as_mut().map(|b| b.poll(now_ms)) {
            s.signals.extend(self.check("sos_button", r).flatten());
        }
        if let Some(r) = self.door.as_mut().map(|d| d.poll(now_ms)) {
            s.signals.extend(self.check("door", r).flatten());
            // Also the level found at start-up, which is no event but is the door's state.
            let open = self.door.as_ref().and_then(DoorContact::is_open);
            if open != self.door_open {
                self.door_open = open;
                s.values.extend(open.map(|o| ("door_open", Value::Bool(o))));
            }
        }
        if let Some(r) = self.pir.as_mut().map(|p| p.poll(now_ms)) {
            s.signals.extend(self.check("pir", r).flatten());
        }
        if let Some(r) = self.water.as_mut().map(|w| w.poll(now_ms)) {
            if self.check("water_meter", r) == Some(true) {
                s.values.extend(self.water_value());
            }
        }
        if let Some(r) = self.smoke.as_mut().map(|d| d.poll(now_ms)) {
            s.signals
                .extend(self.check("smoke", r).into_iter().flatten().flatten());
        }
        if let Some(r) = self
            .climate
            .as_mut()
            .and_then(|c| c.due(now_ms))
            .map(|c| c.read(&mut Delay))
        {
            if let Some(c) = self.check("i2c", r) {
                s.values
                    .push(("temperature_c", Value::Number(c.temperature_c())));
                s.values
                    .push(("humidity_pct", Value::Number(c.humidity_pct())));
            }
        }
        if let Some(r) = self
            .battery
            .as_mut()
            .and_then(|b| b.due(now_ms))
            .map(Battery::read)
        {
            if let Some(b) = self.check("battery", r) {
                s.values
                    .push(("battery_pct", Value::Number(f64::from(b.pct))));
            }
        }
        self.drive_led(&s.signals, now_ms);
        s
    }

    fn drive_led(&mut self, signals: &[Signal], now_ms: u64) {
        let Some(led) = self.led.as_mut() else {
            return;
        };
        for signal in signals {
            match signal {
                Signal::Sos => led.show(
                    Pattern::Blink {
                        on_ms: 200,
                        off_ms: 800,
                        until_ms: now_ms.saturating_add(SOS_BLINK_MS),
                    },
                    now_ms,
                ),
                Signal::SosCancel => led.show(Pattern::Off, now_ms),
                _ => {}
            }
        }
        let r = led.poll(now_ms);
        self.check("led", r);
    }

    /// The value of a driver result; a failure is logged once until the input recovers.
    fn check<T, E: fmt::Debug>(
        &mut self,
        input: &'static str,
        result: Result<T, linli_devices::Error<E>>,
    ) -> Option<T> {
        match result {
            Ok(v) => {
                if self.failing.remove(input) {
                    info!(input, "input recovered");
                }
                Some(v)
            }
            Err(e) => {
                if self.failing.insert(input) {
                    warn!(input, error = ?e, "input read failed; will keep trying");
                }
                None
            }
        }
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
