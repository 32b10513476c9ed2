//! An indicator LED or buzzer on an output pin: steady or blinking, driven by the time.
//!
//! An SOS button blinks its LED after a press so the resident sees the alarm went out. The pin is
//! written only when its level changes.

use embedded_hal::digital::OutputPin;

use crate::{Error, Polarity};

/// What the indicator shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Off.
    Off,
    /// Steadily on.
    On,
    /// On for `on_ms`, off for `off_ms`, repeated, until `until_ms` (then off).
    Blink {
        /// On time of each period.
        on_ms: u32,
        /// Off time of each period.
        off_ms: u32,
        /// When the blinking stops (absolute time, ms).
        until_ms: u64,
    },
}

/// An indicator on an output pin; [`Polarity`] says which level lights it.
#[derive(Debug)]
pub struct Indicator<P> {
    pin: P,
    polarity: Polarity,
    pattern: Pattern,
    started_ms: u64,
    lit: Option<bool>,
}

impl<P: OutputPin> Indicator<P> {
    /// An indicator on `pin`, off (the pin is first written on the first poll).
    pub fn new(pin: P, polarity: Polarity) -> Self {
        Indicator {
            pin,
            polarity,
            pattern: Pattern::Off,
            started_ms: 0,
            lit: None,
        }
    }

    /// Shows `pattern` from `now_ms` on.
    pub fn show(&mut self, pattern: Pattern, now_ms: u64) {
        self.pattern = pattern;
        self.started_ms = now_ms;
    }

    /// The pattern being shown.
    pub const fn pattern(&self) -> Pattern {
        self.pattern
    }

    /// Drives the pin for `now_ms`; writes it only when the level changes.
    pub fn poll(&mut self, now_ms: u64) -> Result<(), Error<P::Error>> {
        let lit = self.lit_at(now_ms);
        if self.lit == Some(lit) {
            return Ok(());
        }
        let high = lit != (self.polarity == Polarity::ActiveLow);
        let written = if high {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        written.map_err(Error::Bus)?;
        self.lit = Some(lit);
        Ok(())
    }

    fn lit_at(&mut self, now_ms: u64) -> bool {
        match self.pattern {
            Pattern::Off => false,
            Pattern::On => true,
            Pattern::Blink {
                on_ms,
                off_ms,
                until_ms,
            } => {
                if now_ms >= until_ms {
                    self.pattern = Pattern::Off;
                    return false;
                }
                let period = u64::from(on_ms) + u64::from(off_ms);
                period > 0 && now_ms.saturating_sub(self.started_ms) % period < u64::from(on_ms)
            }
        }
    }

    /// Gives the pin back.
    pub fn destroy(self) -> P {
        self.pin
    }
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::digital::{Mock, State, Transaction};

    use super::*;

    #[test]
    fn blinks_then_goes_dark_and_writes_only_changes() {
        let pin = Mock::new(&[
            Transaction::set(State::High), // off (active low) at the first poll
            Transaction::set(State::Low),  // blink on at 1 000
            Transaction::set(State::High), // off at 1 200
            Transaction::set(State::Low),  // on at 2 000
            Transaction::set(State::High), // the blinking ends at 3 000
            Transaction::set(State::Low),  // steady on
        ]);
        let mut led = Indicator::new(pin, Polarity::ActiveLow);
        led.poll(0).unwrap();
        led.poll(500).unwrap();
        led.show(
            Pattern::Blink {
                on_ms: 200,
                off_ms: 800,
                until_ms: 3_000,
            },
            1_000,
        );
        for t in [1_000, 1_100, 1_200, 1_900, 2_000, 2_199] {
            led.poll(t).unwrap();
        }
        led.poll(3_000).unwrap();
        assert_eq!(led.pattern(), Pattern::Off);
        led.poll(3_500).unwrap();
        led.show(Pattern::On, 4_000);
        led.poll(4_000).unwrap();
        led.poll(5_000).unwrap();
        led.destroy().done();
    }
}
