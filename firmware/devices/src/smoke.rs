//! A smoke detector's alarm output and test button: `smoke` / `smoke_clear` and `test`.
//!
//! Pressing the test button makes a detector sound its alarm, and so drive its alarm output.
//! That alarm is part of the test, not a fire: while the button is held and for
//! [`TEST_WINDOW_MS`] after its release, an alarm is not reported. One that outlasts the window
//! is real smoke and is reported then.

use embedded_hal::digital::InputPin;

use crate::input::Input;
use crate::{Debouncer, Error, Polarity, Signal};

/// Settle time of the alarm output.
pub const ALARM_DEBOUNCE_MS: u32 = 100;
/// Settle time of the test button.
pub const TEST_DEBOUNCE_MS: u32 = 30;
/// How long after the test button's release an alarm still belongs to the test.
pub const TEST_WINDOW_MS: u32 = 15_000;

/// A smoke detector: an alarm input and a test button input (of one pin type).
#[derive(Debug)]
pub struct SmokeDetector<A, T> {
    alarm: Input<A>,
    test: Input<T>,
    alarm_level: Debouncer,
    test_level: Debouncer,
    /// When the test window closes; `Some(u64::MAX)` while the button is held.
    test_until_ms: Option<u64>,
    /// Whether `smoke` was sent and `smoke_clear` is owed.
    reported: bool,
}

impl<A, T> SmokeDetector<A, T>
where
    A: InputPin,
    T: InputPin<Error = A::Error>,
{
    /// A detector whose `alarm` pin is active in alarm and whose `test` pin is active pressed.
    pub fn new(alarm: A, alarm_polarity: Polarity, test: T, test_polarity: Polarity) -> Self {
        SmokeDetector {
            alarm: Input::new(alarm, alarm_polarity),
            test: Input::new(test, test_polarity),
            alarm_level: Debouncer::with_level(ALARM_DEBOUNCE_MS, false),
            test_level: Debouncer::with_level(TEST_DEBOUNCE_MS, false),
            test_until_ms: None,
            reported: false,
        }
    }

    /// Samples both pins at `now_ms`. A test press and an alarm change can coincide, hence two
    /// slots; the test comes first.
    pub fn poll(&mut self, now_ms: u64) -> Result<[Option<Signal>; 2], Error<A::Error>> {
        let test_raw = self.test.read()?;
        let alarm_raw = self.alarm.read()?;
        let test = match self.test_level.update(test_raw, now_ms) {
            Some(true) => {
                self.test_until_ms = Some(u64::MAX);
                Some(Signal::Test)
            }
            Some(false) => {
                self.test_until_ms = Some(now_ms.saturating_add(TEST_WINDOW_MS.into()));
                None
            }
            None => None,
        };
        let testing = self.test_until_ms.is_some_and(|until| now_ms < until);
        self.alarm_level.update(alarm_raw, now_ms);
        let alarm = match (self.alarm_level.level() == Some(true), self.reported) {
            (true, false) if !testing => {
                self.reported = true;
                Some(Signal::Smoke)
            }
            (false, true) => {
                self.reported = false;
                Some(Signal::SmokeClear)
            }
            _ => None,
        };
        Ok([test, alarm])
    }

    /// True while the detector is in alarm and that alarm was reported as smoke.
    pub const fn in_alarm(&self) -> bool {
        self.reported
    }

    /// Gives the pins back: `(alarm, test)`.
    pub fn destroy(self) -> (A, T) {
        (self.alarm.destroy(), self.test.destroy())
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec::Vec;

    use embedded_hal_mock::eh1::digital::State::{self, High, Low};

    use super::*;
    use crate::testing::pin;

    /// Runs `(t, test_level, alarm_level)` steps (both active low).
    fn run(steps: &[(u64, State, State)]) -> Vec<(u64, Signal)> {
        let tests: Vec<State> = steps.iter().map(|s| s.1).collect();
        let alarms: Vec<State> = steps.iter().map(|s| s.2).collect();
        let mut d = SmokeDetector::new(
            pin(&alarms),
            Polarity::ActiveLow,
            pin(&tests),
            Polarity::ActiveLow,
        );
        let mut out = Vec::new();
        for (t, _, _) in steps {
            for s in d.poll(*t).unwrap().into_iter().flatten() {
                out.push((*t, s));
            }
        }
        let (mut alarm, mut test) = d.destroy();
        alarm.done();
        test.done();
        out
    }

    #[test]
    fn alarm_and_clear_are_debounced() {
        let steps = [
            (0, High, High),
            (10, High, Low),
            (50, High, High), // glitch
            (60, High, Low),
            (159, High, Low),
            (160, High, Low), // smoke
            (5_000, High, Low),
            (6_000, High, High),
            (6_100, High, High), // clear
        ];
        assert_eq!(
            run(&steps),
            [(160, Signal::Smoke), (6_100, Signal::SmokeClear)]
        );
    }

    #[test]
    fn the_alarm_of_a_test_is_not_smoke_but_one_that_outlasts_it_is() {
        let steps = [
            (0, Low, High),
            (30, Low, High), // test pressed
            (500, Low, Low),
            (600, Low, Low), // the detector sounds: part of the test
            (2_000, High, Low),
            (2_030, High, Low), // released; the window runs to 17 030
            (4_000, High, High),
            (4_100, High, High), // test alarm over: no smoke_clear
            (20_000, Low, High),
            (20_030, Low, High), // a second test
            (21_000, High, Low),
            (21_030, High, Low),
            (36_029, High, Low), // still within the window
            (36_030, High, Low), // alarm outlasts the test: smoke
            (40_000, High, High),
            (40_100, High, High),
        ];
        assert_eq!(
            run(&steps),
            [
                (30, Signal::Test),
                (20_030, Signal::Test),
                (36_030, Signal::Smoke),
                (40_100, Signal::SmokeClear),
            ]
        );
    }

    #[test]
    fn a_test_press_and_an_alarm_change_in_one_poll_are_both_reported() {
        let steps = [
            (0, High, Low),
            (100, High, Low), // smoke
            (200, Low, High),
            (300, Low, High), // test pressed as the alarm stops
        ];
        assert_eq!(
            run(&steps),
            [
                (100, Signal::Smoke),
                (300, Signal::Test),
                (300, Signal::SmokeClear)
            ]
        );
    }

    #[test]
    fn smoke_settling_with_a_test_press_belongs_to_the_test() {
        assert_eq!(
            run(&[(0, Low, Low), (100, Low, Low)]),
            [(100, Signal::Test)]
        );
    }
}
