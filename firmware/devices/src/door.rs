//! A door contact (reed switch): debounced `door_open` / `door_close`.
//!
//! The contact's "active" level means *open*. The level found at start-up is taken silently
//! (see [`DoorContact::is_open`]); only changes are events.

use embedded_hal::digital::InputPin;

use crate::input::Input;
use crate::{Debouncer, Error, Polarity, Signal};

/// Default settle time of a reed contact.
pub const DEBOUNCE_MS: u32 = 50;

/// A door contact on an input pin.
#[derive(Debug)]
pub struct DoorContact<P> {
    input: Input<P>,
    debounce: Debouncer,
}

impl<P: InputPin> DoorContact<P> {
    /// A contact on `pin` whose active level means "open", debounced [`DEBOUNCE_MS`].
    pub fn new(pin: P, polarity: Polarity) -> Self {
        Self::with_debounce(pin, polarity, DEBOUNCE_MS)
    }

    /// A contact with an explicit settle time.
    pub fn with_debounce(pin: P, polarity: Polarity, debounce_ms: u32) -> Self {
        DoorContact {
            input: Input::new(pin, polarity),
            debounce: Debouncer::new(debounce_ms),
        }
    }

    /// Samples the pin at `now_ms`: `door_open` / `door_close` on a settled change.
    pub fn poll(&mut self, now_ms: u64) -> Result<Option<Signal>, Error<P::Error>> {
        let open = self.input.read()?;
        Ok(self.debounce.update(open, now_ms).map(|open| {
            if open {
                Signal::DoorOpen
            } else {
                Signal::DoorClose
            }
        }))
    }

    /// Whether the door is open, once the contact has settled.
    pub const fn is_open(&self) -> Option<bool> {
        self.debounce.level()
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
    fn the_start_level_is_silent_and_changes_are_debounced_events() {
        // Active high: high = open (a normally-closed reed to ground, pulled up).
        let (times, pin) = script(&[
            (0, Low),
            (50, Low), // settled closed, silently
            (100, High),
            (120, Low), // bounce
            (130, High),
            (170, High),
            (180, High), // open: 50 ms since the bounce
            (300, Low),
            (350, Low), // closed
        ]);
        let mut door = DoorContact::new(pin, Polarity::ActiveHigh);
        let mut out = Vec::new();
        for t in times {
            if let Some(s) = door.poll(t).unwrap() {
                out.push((t, s));
            }
            if t == 50 {
                assert_eq!(door.is_open(), Some(false));
            }
        }
        assert_eq!(out, [(180, Signal::DoorOpen), (350, Signal::DoorClose)]);
        assert_eq!(door.is_open(), Some(false));
        door.destroy().done();
    }
}
