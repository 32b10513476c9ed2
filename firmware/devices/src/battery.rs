//! Battery charge from a voltage: an ADC reading through a discharge curve → `battery_pct`.
//!
//! embedded-hal 1.0 has no ADC trait, so the converter is anything implementing [`BatteryAdc`]
//! (closures returning millivolts included). The voltage is the battery's own, after undoing
//! any divider. Charge is interpolated linearly between the points of a [`Curve`].

use crate::Error;

/// Reads the battery voltage in millivolts.
pub trait BatteryAdc {
    /// The converter's error.
    type Error;
    /// One reading, in millivolts at the battery terminals.
    fn read_mv(&mut self) -> Result<u16, Self::Error>;
}

impl<F, E> BatteryAdc for F
where
    F: FnMut() -> Result<u16, E>,
{
    type Error = E;
    fn read_mv(&mut self) -> Result<u16, E> {
        self()
    }
}

/// A discharge curve: `(millivolts, percent)` points, ascending in both. Below the first point
/// the charge is 0 %, above the last 100 %.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Curve(pub &'static [(u16, u8)]);

impl Curve {
    /// One Li-ion / Li-polymer cell (3.7 V nominal) at light load: 4.20 V full, 3.00 V empty,
    /// with the long plateau around 3.7–3.8 V.
    pub const LI_ION_1S: Curve = Curve(&[
        (3_000, 0),
        (3_300, 5),
        (3_600, 20),
        (3_700, 40),
        (3_800, 60),
        (3_900, 75),
        (4_000, 85),
        (4_100, 95),
        (4_200, 100),
    ]);

    /// Two alkaline AA or AAA cells in series: 3.0 V fresh, 2.0 V exhausted, a nearly linear
    /// slope in between that flattens at the ends.
    pub const ALKALINE_2X: Curve = Curve(&[
        (2_000, 0),
        (2_200, 10),
        (2_400, 30),
        (2_600, 60),
        (2_800, 85),
        (3_000, 100),
    ]);

    /// One 3 V lithium primary cell (CR123A, CR2): flat until the very end, so the percentage
    /// only warns late; 2.5 V is empty.
    pub const LITHIUM_3V: Curve = Curve(&[
        (2_500, 0),
        (2_700, 10),
        (2_800, 30),
        (2_900, 70),
        (3_000, 100),
    ]);

    /// The charge in percent (0–100) at `mv`.
    pub fn percent(&self, mv: u16) -> u8 {
        let points = self.0;
        let (Some(&(lo_mv, lo_pct)), Some(&(hi_mv, hi_pct))) = (points.first(), points.last())
        else {
            return 0;
        };
        if mv <= lo_mv {
            return lo_pct;
        }
        if mv >= hi_mv {
            return hi_pct;
        }
        for pair in points.windows(2) {
            let [(v0, p0), (v1, p1)] = [pair[0], pair[1]];
            if mv <= v1 && v1 > v0 {
                let span = u32::from(v1 - v0);
                let rise = u32::from(p1.saturating_sub(p0));
                let part = u32::from(mv - v0) * rise;
                // Round to the nearest percent.
                let add = (part + span / 2) / span;
                return p0
                    .saturating_add(u8::try_from(add).unwrap_or(u8::MAX))
                    .min(100);
            }
        }
        hi_pct
    }
}

/// One battery reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatteryReading {
    /// Voltage in millivolts.
    pub mv: u16,
    /// Charge in percent: the `battery_pct` value.
    pub pct: u8,
}

/// A battery measured through an ADC.
#[derive(Debug)]
pub struct Battery<A> {
    adc: A,
    curve: Curve,
}

impl<A: BatteryAdc> Battery<A> {
    /// A battery read through `adc`, converted with `curve`.
    pub fn new(adc: A, curve: Curve) -> Self {
        Battery { adc, curve }
    }

    /// Reads the voltage and converts it.
    pub fn read(&mut self) -> Result<BatteryReading, Error<A::Error>> {
        let mv = self.adc.read_mv().map_err(Error::Bus)?;
        Ok(BatteryReading {
            mv,
            pct: self.curve.percent(mv),
        })
    }

    /// Gives the converter back.
    pub fn destroy(self) -> A {
        self.adc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_li_ion_curve_interpolates_and_clamps() {
        let c = Curve::LI_ION_1S;
        assert_eq!(c.percent(0), 0);
        assert_eq!(c.percent(3_000), 0);
        assert_eq!(c.percent(3_150), 3, "half of 0..5 rounds up");
        assert_eq!(c.percent(3_600), 20);
        assert_eq!(c.percent(3_750), 50);
        assert_eq!(c.percent(4_150), 98, "97.5 rounds up");
        assert_eq!(c.percent(4_200), 100);
        assert_eq!(c.percent(u16::MAX), 100);
    }

    #[test]
    fn every_curve_is_monotonic() {
        for c in [Curve::LI_ION_1S, Curve::ALKALINE_2X, Curve::LITHIUM_3V] {
            let mut last = 0;
            for mv in (0..=4_500).step_by(5) {
                let p = c.percent(mv);
                assert!(p >= last && p <= 100, "{c:?} at {mv} mV: {p} after {last}");
                last = p;
            }
            assert_eq!(last, 100);
        }
        assert_eq!(Curve::ALKALINE_2X.percent(2_500), 45);
        assert_eq!(Curve::LITHIUM_3V.percent(2_850), 50);
        assert_eq!(Curve(&[]).percent(3_000), 0);
    }

    /// A scripted ADC: answers its readings in order, then fails.
    #[derive(Debug)]
    struct Adc(&'static [u16], usize);

    impl BatteryAdc for Adc {
        type Error = &'static str;
        fn read_mv(&mut self) -> Result<u16, &'static str> {
            let mv = self.0.get(self.1).copied().ok_or("no conversion");
            self.1 += 1;
            mv
        }
    }

    #[test]
    fn a_battery_reads_through_its_adc() {
        let mut b = Battery::new(Adc(&[2_900], 0), Curve::ALKALINE_2X);
        assert_eq!(b.read(), Ok(BatteryReading { mv: 2_900, pct: 93 }));
        assert_eq!(b.read(), Err(Error::Bus("no conversion")));
        assert_eq!(b.destroy().1, 2);
    }

    #[test]
    fn a_closure_is_an_adc() {
        // A 12-bit ADC at 3.3 V full scale behind a 1:2 divider.
        let raw = 2_482_u32;
        let mut b = Battery::new(
            || Ok::<u16, ()>(u16::try_from(raw * 3_300 * 2 / 4_095).unwrap_or(u16::MAX)),
            Curve::LI_ION_1S,
        );
        assert_eq!(b.read(), Ok(BatteryReading { mv: 4_000, pct: 85 }));
    }
}
