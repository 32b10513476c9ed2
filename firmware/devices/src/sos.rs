//! The SOS button: a press raises `sos` at once, a long press cancels, a jammed button is a fault.
//!
//! The alarm goes out on the debounced press, not on release: a resident who falls and keeps the
//! button pressed must still raise it. Holding on for [`SosTiming::long_press_ms`] then sends
//! `sos_cancel` (the hub clears the condition; a person still resolves the alarm). A button held
//! beyond [`SosTiming::stuck_ms`] is no person's press any more: one `fault` (`stuck_button`),
//! and `fault_clear` once it is released.

use embedded_hal::digital::InputPin;

use crate::input::Input;
use crate::{Debouncer, Error, Fault, Polarity, Signal};

/// Time thresholds of the SOS button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SosTiming {
    /// Settle time of the contact (default 30 ms).
    pub debounce_ms: u32,
    /// Held this long, a press cancels the SOS (default 3 s).
    pub long_press_ms: u32,
    /// Held longer than this, the button is stuck (default 60 s).
    pub stuck_ms: u32,
}

impl Default for SosTiming {
    fn default() -> Self {
        SosTiming {
            debounce_ms: 30,
            long_press_ms: 3_000,
            stuck_ms: 60_000,
        }
    }
}

/// The pure decision logic of the SOS button, fed with the raw "pressed" level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SosLogic {
    timing: SosTiming,
    debounce: Debouncer,
    held: Option<Hold>,
    stuck: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hold {
    since_ms: u64,
    cancelled: bool,
}

impl SosLogic {
    /// Logic with the given thresholds, starting released.
    pub const fn new(timing: SosTiming) -> Self {
        SosLogic {
            timing,
            debounce: Debouncer::with_level(timing.debounce_ms, false),
            held: None,
            stuck: false,
        }
    }

    /// Feeds the raw level (`true` = pressed) sampled at `now_ms`.
    pub fn update(&mut self, pressed: bool, now_ms: u64) -> Option<Signal> {
        let change = self.debounce.update(pressed, now_ms);
        self.on_level(change, now_ms)
    }

    fn on_level(&mut self, change: Option<bool>, now_ms: u64) -> Option<Signal> {
        match change {
            Some(true) => {
                self.held = Some(Hold {
                    since_ms: self.debounce.since_ms(),
                    cancelled: false,
                });
                return Some(Signal::Sos);
            }
            Some(false) => {
                self.held = None;
                return core::mem::take(&mut self.stuck)
                    .then_some(Signal::FaultClear(Fault::StuckButton));
            }
            None => {}
        }
        let hold = self.held.as_mut()?;
        let held_ms = now_ms.saturating_sub(hold.since_ms);
        if !hold.cancelled && held_ms >= u64::from(self.timing.long_press_ms) {
            hold.cancelled = true;
            return Some(Signal::SosCancel);
        }
        if !self.stuck && held_ms > u64::from(self.timing.stuck_ms) {
            self.stuck = true;
            return Some(Signal::Fault(Fault::StuckButton));
        }
        None
    }

    /// True while the debounced button is pressed.
    pub const fn is_pressed(&self) -> bool {
        self.held.is_some()
    }
}

/// An SOS button on an input pin.
#[derive(Debug)]
pub struct SosButton<P> {
    input: Input<P>,
    logic: SosLogic,
}

impl<P: InputPin> SosButton<P> {
    /// A button on `pin` with the default timing.
    pub fn new(pin: P, polarity: Polarity) -> Self {
        Self::with_timing(pin, polarity, SosTiming::default())
    }

    /// A button on `pin` with explicit thresholds.
    pub fn with_timing(pin: P, polarity: Polarity, timing: SosTiming) -> Self {
        SosButton {
            input: Input::new(pin, polarity),
            logic: SosLogic::new(timing),
        }
    }

    /// Samples the pin at `now_ms` (call it every ~10 ms).
    pub fn poll(&mut self, now_ms: u64) -> Result<Option<Signal>, Error<P::Error>> {
        let pressed = self.input.read()?;
        Ok(self.logic.update(pressed, now_ms))
    }

    /// True while the debounced button is pressed.
    pub const fn is_pressed(&self) -> bool {
        self.logic.is_pressed()
    }

    /// Gives the pin back.
    pub fn destroy(self) -> P {
        self.input.destroy()
    }
}

#[cfg(test)]
mod tests;
