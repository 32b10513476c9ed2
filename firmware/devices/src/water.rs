//! A pulse-output water meter: counts settled pulses, reports the cumulative `water_m3`.
//!
//! Meters with a reed or open-collector output close the contact once per fixed volume
//! (1 L, 10 L, ...). Each settled transition to the active level is one pulse; a contact found
//! closed at start-up is not a pulse. Volumes are kept in whole millilitres, so no rounding
//! accumulates over millions of pulses.

use embedded_hal::digital::InputPin;

use crate::input::Input;
use crate::{Debouncer, Error, Polarity};

/// Default settle time of the pulse contact (pulses last 50 ms or more).
pub const DEBOUNCE_MS: u32 = 10;

/// A pulse water meter on an input pin.
#[derive(Debug)]
pub struct WaterMeter<P> {
    input: Input<P>,
    debounce: Debouncer,
    ml_per_pulse: u32,
    total_ml: u64,
    pulses: u64,
}

impl<P: InputPin> WaterMeter<P> {
    /// A meter on `pin` giving one pulse per `ml_per_pulse` millilitres, whose register read
    /// `start_ml` when the node started (so the reported value matches the meter's dial).
    pub fn new(pin: P, polarity: Polarity, ml_per_pulse: u32, start_ml: u64) -> Self {
        WaterMeter {
            input: Input::new(pin, polarity),
            debounce: Debouncer::new(DEBOUNCE_MS),
            ml_per_pulse,
            total_ml: start_ml,
            pulses: 0,
        }
    }

    /// Samples the pin at `now_ms`; true when a pulse was counted.
    pub fn poll(&mut self, now_ms: u64) -> Result<bool, Error<P::Error>> {
        let active = self.input.read()?;
        let pulse = self.debounce.update(active, now_ms) == Some(true);
        if pulse {
            self.pulses = self.pulses.saturating_add(1);
            self.total_ml = self.total_ml.saturating_add(u64::from(self.ml_per_pulse));
        }
        Ok(pulse)
    }

    /// Pulses counted since start.
    pub const fn pulses(&self) -> u64 {
        self.pulses
    }

    /// The register in millilitres.
    pub const fn total_ml(&self) -> u64 {
        self.total_ml
    }

    /// The register in cubic metres: the `water_m3` value.
    pub fn water_m3(&self) -> f64 {
        ml_to_m3(self.total_ml)
    }

    /// Gives the pin back.
    pub fn destroy(self) -> P {
        self.input.destroy()
    }
}

/// Millilitres to cubic metres.
pub fn ml_to_m3(ml: u64) -> f64 {
    // Exact below 2^53 ml (9 million m³): far beyond any household register.
    ml as f64 / 1_000_000.0
}

#[cfg(test)]
mod tests {
    use embedded_hal_mock::eh1::digital::State::{self, High, Low};

    use super::*;
    use crate::testing::pin;

    /// One pulse as an active-low contact sampled every 10 ms: 60 ms closed, 60 ms open.
    const PULSE: [State; 12] = [
        Low, Low, Low, Low, Low, Low, High, High, High, High, High, High,
    ];

    #[test]
    fn pulses_become_cubic_metres() {
        let mut levels = alloc::vec![Low, Low]; // closed at start: not a pulse
        levels.extend([High, High, High]);
        for _ in 0..3 {
            levels.extend(PULSE);
        }
        let n = levels.len();
        let mut meter = WaterMeter::new(pin(&levels), Polarity::ActiveLow, 10_000, 12_345_000);
        let counted = (0..n as u64)
            .filter(|i| meter.poll(i * 10).unwrap())
            .count();
        assert_eq!((counted, meter.pulses()), (3, 3));
        assert_eq!(meter.total_ml(), 12_375_000);
        assert_eq!(meter.water_m3(), 12.375);
        meter.destroy().done();
    }

    #[test]
    fn contact_bounce_is_one_pulse() {
        // Closed, bounce open for one sample, closed again, then released.
        let levels = [High, High, Low, High, Low, Low, Low, High, High, High];
        let mut meter = WaterMeter::new(pin(&levels), Polarity::ActiveLow, 1_000, 0);
        for i in 0..levels.len() as u64 {
            meter.poll(i * 10).unwrap();
        }
        assert_eq!(meter.pulses(), 1);
        assert_eq!(meter.water_m3(), 0.001);
        meter.destroy().done();
    }

    #[test]
    fn many_pulses_do_not_drift() {
        assert_eq!(ml_to_m3(1_000 * 1_000_000), 1_000.0);
        assert_eq!(ml_to_m3(10), 0.00001);
    }
}
