//! A polled binary input: a pin and its polarity.

use embedded_hal::digital::InputPin;

use crate::Error;

/// Which electrical level means "active" (pressed, open, motion, alarm, pulse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Polarity {
    /// Active when the pin reads high.
    ActiveHigh,
    /// Active when the pin reads low: the usual switch to ground with a pull-up.
    #[default]
    ActiveLow,
}

impl Polarity {
    /// `ActiveLow` when `active_low`, else `ActiveHigh` (the spelling of the configs).
    pub const fn from_active_low(active_low: bool) -> Self {
        if active_low {
            Polarity::ActiveLow
        } else {
            Polarity::ActiveHigh
        }
    }
}

/// A pin read through its polarity.
#[derive(Debug)]
pub(crate) struct Input<P> {
    pin: P,
    polarity: Polarity,
}

impl<P: InputPin> Input<P> {
    pub(crate) fn new(pin: P, polarity: Polarity) -> Self {
        Input { pin, polarity }
    }

    /// Reads the pin: `true` when it is at its active level.
    pub(crate) fn read(&mut self) -> Result<bool, Error<P::Error>> {
        let high = self.pin.is_high().map_err(Error::Bus)?;
        Ok(high != (self.polarity == Polarity::ActiveLow))
    }

    pub(crate) fn destroy(self) -> P {
        self.pin
    }
}
