//! A PIR motion sensor: `motion` events, at most one per hold-off.
//!
//! A PIR output pulses or stays high while someone moves about; reporting every edge would flood
//! the hub with a person walking round the flat. One `motion` is sent when the settled output
//! turns active, and again only once [`MotionSensor::holdoff_ms`] has passed since the last one
//! while there is still (or again) motion. Continued presence therefore shows up as one event per
//! hold-off, which is all the hub's inactivity rule needs.

use embedded_hal::digital::InputPin;

use crate::input::Input;
use crate::{Debouncer, Error, Polarity, Signal};

/// Default settle time: ignores glitches on the PIR output line.
pub const DEBOUNCE_MS: u32 = 50;
/// Default hold-off between two `motion` events.
pub const HOLDOFF_MS: u32 = 30_000;

/// A PIR sensor on an input pin; its active level means motion.
#[derive(Debug)]
pub struct MotionSensor<P> {
    input: Input<P>,
    debounce: Debouncer,
    holdoff_ms: u32,
    last_event_ms: Option<u64>,
}

impl<P: InputPin> MotionSensor<P> {
    /// A sensor on `pin` with the default settle time and hold-off.
    pub fn new(pin: P, polarity: Polarity) -> Self {
        Self::with_holdoff(pin, polarity, DEBOUNCE_MS, HOLDOFF_MS)
    }

    /// A sensor with an explicit settle time and hold-off.
    pub fn with_holdoff(pin: P, polarity: Polarity, debounce_ms: u32, holdoff_ms: u32) -> Self {
        MotionSensor {
            input: Input::new(pin, polarity),
            debounce: Debouncer::with_level(debounce_ms, false),
            holdoff_ms,
            last_event_ms: None,
        }
    }

    /// Samples the pin at `now_ms`: `motion` when there is motion and the hold-off has passed.
    pub fn poll(&mut self, now_ms: u64) -> Result<Option<Signal>, Error<P::Error>> {
        let raw = self.input.read()?;
        self.debounce.update(raw, now_ms);
        let moving = self.debounce.level() == Some(true);
        let quiet = self
            .last_event_ms
            .is_none_or(|t| now_ms.saturating_sub(t) >= u64::from(self.holdoff_ms));
        if moving && quiet {
            self.last_event_ms = Some(now_ms);
            return Ok(Some(Signal::Motion));
        }
        Ok(None)
    }

    /// The hold-off between two events, in ms.
    pub const fn holdoff_ms(&self) -> u32 {
        self.holdoff_ms
    }

    /// Gives the pin back.
    pub fn destroy(self) -> P {
        self.input.destroy()
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use embedded_hal_mock::eh1::digital::State::{High, Low};

    use super::*;
    use crate::testing::script;

    #[test]
    fn someone_walking_about_is_one_event_per_holdoff() {
        let (times, pin) = script(&[
            (0, Low),
            (100, High),
            (150, High), // settled: motion
            (1_000, Low),
            (2_000, High),
            (2_050, High), // moving again within the hold-off: nothing
            (10_000, High),
            (30_149, High),
            (30_150, High), // still moving after the hold-off: one more
            (31_000, Low),
            (31_050, Low),
            (90_000, Low), // nobody there: nothing
            (90_010, High),
            (90_060, High), // motion again
        ]);
        let mut pir = MotionSensor::new(pin, Polarity::ActiveHigh);
        let out: Vec<(u64, Signal)> = times
            .into_iter()
            .filter_map(|t| pir.poll(t).unwrap().map(|s| (t, s)))
            .collect();
        assert_eq!(
            out,
            [
                (150, Signal::Motion),
                (30_150, Signal::Motion),
                (90_060, Signal::Motion)
            ]
        );
        pir.destroy().done();
    }
}
