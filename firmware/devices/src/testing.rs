//! Test helpers: scripted pins.

use alloc::vec::Vec;

use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction};

/// A pin mock that answers `is_high` with `levels`, in order, one per poll.
pub fn pin(levels: &[State]) -> PinMock {
    let expectations: Vec<Transaction> = levels.iter().map(|s| Transaction::get(*s)).collect();
    PinMock::new(&expectations)
}

/// The times of a script `(t, level)`, and a pin that answers its levels.
pub fn script(steps: &[(u64, State)]) -> (Vec<u64>, PinMock) {
    let levels: Vec<State> = steps.iter().map(|(_, s)| *s).collect();
    (steps.iter().map(|(t, _)| *t).collect(), pin(&levels))
}
