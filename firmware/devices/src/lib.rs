//! Linli device side: embedded-hal 1.0 drivers and the node state machine.
//!
//! Drivers follow eldruin's style: each owns its pin or bus (`new(..)` / `destroy()`), is generic
//! over the embedded-hal 1.0 traits, wraps bus errors in [`Error`], and keeps its decisions in a
//! small pure state machine that is handed the time in milliseconds (there is no clock inside).
//! Input drivers are polled, about every 10 ms, and answer with at most one [`Signal`] per input
//! and poll; [`Node`] turns signals and readings into the messages of the MQTT contract, shared
//! with the hub through `linli-protocols`.
//!
//! The crate is `no_std`; it needs `alloc` only for building messages.
#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

#[cfg(test)]
mod testing;

pub mod battery;
pub mod climate;
mod debounce;
pub mod door;
pub mod indicator;
mod input;
pub mod node;
pub mod pir;
pub mod smoke;
pub mod sos;
pub mod water;

pub use battery::{Battery, BatteryAdc, BatteryReading, Curve};
pub use climate::{Climate, ClimateReading};
pub use debounce::Debouncer;
pub use door::DoorContact;
pub use indicator::{Indicator, Pattern};
pub use input::Polarity;
pub use node::{Node, NodeConfig, Outgoing};
pub use pir::MotionSensor;
pub use smoke::SmokeDetector;
pub use sos::SosButton;
pub use water::WaterMeter;

use alloc::string::ToString;
use linli_protocols::{Value, Values};

/// A driver error: the bus (pin, I²C, ADC) failed, or the data it returned was corrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error<E> {
    /// The underlying pin, bus or converter reported an error.
    Bus(E),
    /// A checksum did not match (the sensor answered, but the data is corrupt).
    Crc,
}

impl<E: core::fmt::Display> core::fmt::Display for Error<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Error::Bus(e) => write!(f, "bus error: {e}"),
            Error::Crc => f.write_str("checksum mismatch"),
        }
    }
}

impl<E: core::fmt::Debug + core::fmt::Display> core::error::Error for Error<E> {}

/// Why a device reports a `fault`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A button has been held far longer than a person would: shorted or jammed.
    StuckButton,
}

impl Fault {
    /// The `reason` spelling in the event's data.
    pub const fn as_str(self) -> &'static str {
        match self {
            Fault::StuckButton => "stuck_button",
        }
    }
}

/// Something a driver noticed; each maps to a canonical event type of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// The SOS button was pressed.
    Sos,
    /// The SOS button was held for a long press: the resident cancels.
    SosCancel,
    /// A fault was detected.
    Fault(Fault),
    /// The fault reported before has gone.
    FaultClear(Fault),
    /// A door contact opened.
    DoorOpen,
    /// A door contact closed.
    DoorClose,
    /// A motion sensor saw movement.
    Motion,
    /// A smoke detector raised its alarm.
    Smoke,
    /// The smoke alarm stopped.
    SmokeClear,
    /// The test button of a detector was pressed.
    Test,
}

impl Signal {
    /// The canonical event type (`sos`, `door_open`, ...).
    pub const fn kind(self) -> &'static str {
        match self {
            Signal::Sos => "sos",
            Signal::SosCancel => "sos_cancel",
            Signal::Fault(_) => "fault",
            Signal::FaultClear(_) => "fault_clear",
            Signal::DoorOpen => "door_open",
            Signal::DoorClose => "door_close",
            Signal::Motion => "motion",
            Signal::Smoke => "smoke",
            Signal::SmokeClear => "smoke_clear",
            Signal::Test => "test",
        }
    }

    /// The event's `data`: empty, except the `reason` of a fault.
    pub fn data(self) -> Values {
        let mut data = Values::new();
        if let Signal::Fault(f) | Signal::FaultClear(f) = self {
            data.insert("reason".to_string(), Value::Text(f.as_str().to_string()));
        }
        data
    }
}
