use alloc::vec::Vec;

use embedded_hal_mock::eh1::MockError;
use embedded_hal_mock::eh1::digital::{State, Transaction};
use std::io::ErrorKind;

use super::*;
use crate::testing::script;

use State::{High, Low};

/// Runs `steps` against an active-low button; the signals with their times.
fn run(steps: &[(u64, State)]) -> Vec<(u64, Signal)> {
    let (times, pin) = script(steps);
    let mut button = SosButton::new(pin, Polarity::ActiveLow);
    let out = times
        .into_iter()
        .filter_map(|t| button.poll(t).unwrap().map(|s| (t, s)))
        .collect();
    button.destroy().done();
    out
}

#[test]
fn a_bouncing_press_raises_one_sos_after_the_debounce() {
    let steps = [
        (0, High),
        (10, Low),
        (20, High), // bounce
        (30, Low),
        (40, Low),
        (50, Low),
        (60, Low), // held 30 ms since the last bounce
        (70, High),
        (80, Low), // bounce on release
        (90, High),
        (100, High),
        (110, High),
        (120, High),
    ];
    assert_eq!(run(&steps), [(60, Signal::Sos)]);
}

#[test]
fn a_glitch_shorter_than_the_debounce_is_ignored() {
    let steps = [(0, High), (10, Low), (20, Low), (30, High), (40, High)];
    assert_eq!(run(&steps), []);
}

#[test]
fn a_long_press_cancels_and_a_stuck_button_is_one_fault() {
    let steps = [
        (0, Low),
        (30, Low),
        (2_999, Low),
        (3_000, Low),  // held 3 s: cancel
        (4_000, Low),  // once
        (60_000, Low), // exactly 60 s is not yet stuck
        (60_001, Low),
        (61_000, Low), // the fault is reported once
        (70_000, High),
        (70_030, High), // released: fault cleared
        (80_000, Low),
        (80_030, Low), // a new press after the repair is a new SOS
    ];
    assert_eq!(
        run(&steps),
        [
            (30, Signal::Sos),
            (3_000, Signal::SosCancel),
            (60_001, Signal::Fault(Fault::StuckButton)),
            (70_030, Signal::FaultClear(Fault::StuckButton)),
            (80_030, Signal::Sos),
        ]
    );
}

#[test]
fn a_press_released_before_the_long_press_does_not_cancel() {
    let steps = [
        (0, Low),
        (30, Low),
        (2_990, High),
        (3_020, High),
        (3_100, High),
    ];
    assert_eq!(run(&steps), [(30, Signal::Sos)]);
}

#[test]
fn polarity_active_high() {
    let (times, pin) = script(&[(0, High), (30, High)]);
    let mut button = SosButton::new(pin, Polarity::ActiveHigh);
    assert_eq!(button.poll(times[0]).unwrap(), None);
    assert_eq!(button.poll(times[1]).unwrap(), Some(Signal::Sos));
    assert!(button.is_pressed());
    button.destroy().done();
}

#[test]
fn a_pin_error_is_returned_as_a_bus_error() {
    let err = MockError::Io(ErrorKind::Other);
    let pin = embedded_hal_mock::eh1::digital::Mock::new(&[
        Transaction::get(High).with_error(err.clone())
    ]);
    let mut button = SosButton::new(pin, Polarity::ActiveLow);
    assert_eq!(button.poll(0), Err(Error::Bus(err)));
    button.destroy().done();
}
