//! Temperature and humidity from a Sensirion SHTC3 over I²C, through the `shtcx` driver.
//!
//! Each [`Climate::read`] wakes the sensor, runs one normal-mode measurement (CRC-checked by
//! `shtcx`) and puts it back to sleep, where it draws under 1 µA between readings.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::I2c;
use shtcx::{LowPower, PowerMode, ShtC3};

use crate::Error;

/// One temperature / humidity reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClimateReading {
    /// Temperature in thousandths of a degree Celsius.
    pub millidegrees_c: i32,
    /// Relative humidity in thousandths of a percent.
    pub millipercent_rh: i32,
}

impl ClimateReading {
    /// The `temperature_c` value.
    pub fn temperature_c(&self) -> f64 {
        f64::from(self.millidegrees_c) / 1000.0
    }

    /// The `humidity_pct` value.
    pub fn humidity_pct(&self) -> f64 {
        f64::from(self.millipercent_rh) / 1000.0
    }
}

/// An SHTC3 on an I²C bus (address 0x70).
pub struct Climate<I2C> {
    sensor: ShtC3<I2C>,
}

// `shtcx`'s sensor marker types do not implement `Debug`.
impl<I2C> core::fmt::Debug for Climate<I2C> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Climate").field("sensor", &"SHTC3").finish()
    }
}

impl<I2C: I2c> Climate<I2C> {
    /// A sensor on `i2c`. No bus traffic until the first reading.
    pub fn new(i2c: I2C) -> Self {
        Climate {
            sensor: shtcx::shtc3(i2c),
        }
    }

    /// Wakes the sensor, measures, and sends it back to sleep (also when the measurement failed).
    pub fn read(&mut self, delay: &mut impl DelayNs) -> Result<ClimateReading, Error<I2C::Error>> {
        self.sensor.wakeup(delay).map_err(from_shtcx)?;
        let measured = self.sensor.measure(PowerMode::NormalMode, delay);
        let slept = self.sensor.sleep();
        let m = measured.map_err(from_shtcx)?;
        slept.map_err(from_shtcx)?;
        Ok(ClimateReading {
            millidegrees_c: m.temperature.as_millidegrees_celsius(),
            millipercent_rh: m.humidity.as_millipercent(),
        })
    }

    /// Gives the bus back.
    pub fn destroy(self) -> I2C {
        self.sensor.destroy()
    }
}

fn from_shtcx<E: embedded_hal::i2c::Error>(e: shtcx::Error<E>) -> Error<E> {
    match e {
        shtcx::Error::I2c(e) => Error::Bus(e),
        shtcx::Error::Crc => Error::Crc,
    }
}

#[cfg(test)]
mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::delay::{CheckedDelay, Transaction as Delay};
    use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as I2c};

    use super::*;

    const ADDR: u8 = 0x70;

    /// CRC-8 of the Sensirion sensors: polynomial 0x31, init 0xFF.
    fn crc8(data: &[u8]) -> u8 {
        data.iter().fold(0xff, |mut crc, b| {
            crc ^= b;
            for _ in 0..8 {
                crc = if crc & 0x80 != 0 {
                    (crc << 1) ^ 0x31
                } else {
                    crc << 1
                };
            }
            crc
        })
    }

    fn frame(t: u16, h: u16) -> Vec<u8> {
        let (t, h) = (t.to_be_bytes(), h.to_be_bytes());
        vec![t[0], t[1], crc8(&t), h[0], h[1], crc8(&h)]
    }

    fn delays() -> CheckedDelay {
        // Wake-up time, then the normal-mode measurement time (datasheet table 5).
        CheckedDelay::new(&[Delay::delay_us(240), Delay::delay_us(12_100)])
    }

    #[test]
    fn crc_helper_matches_the_datasheet() {
        assert_eq!(crc8(&[0xbe, 0xef]), 0x92);
    }

    #[test]
    fn a_reading_wakes_measures_and_sleeps() {
        let i2c = I2cMock::new(&[
            I2c::write(ADDR, vec![0x35, 0x17]), // wake up
            I2c::write(ADDR, vec![0x78, 0x66]), // measure, normal mode, temperature first
            I2c::read(ADDR, frame(0x6666, 0x8000)),
            I2c::write(ADDR, vec![0xb0, 0x98]), // sleep
        ]);
        let mut delay = delays();
        let mut climate = Climate::new(i2c);
        let r = climate.read(&mut delay).unwrap();
        // -45 + 175 * 0x6666 / 2^16 = 24.998 °C; 100 * 0x8000 / 2^16 = 50 %.
        assert_eq!(r.millidegrees_c, 24_998);
        assert_eq!((r.temperature_c(), r.humidity_pct()), (24.998, 50.0));
        climate.destroy().done();
        delay.done();
    }

    #[test]
    fn a_corrupt_frame_is_a_crc_error_and_the_sensor_still_sleeps() {
        let mut bad = frame(0x6666, 0x8000);
        bad[5] ^= 0x01;
        let i2c = I2cMock::new(&[
            I2c::write(ADDR, vec![0x35, 0x17]),
            I2c::write(ADDR, vec![0x78, 0x66]),
            I2c::read(ADDR, bad),
            I2c::write(ADDR, vec![0xb0, 0x98]),
        ]);
        let mut delay = delays();
        let mut climate = Climate::new(i2c);
        assert_eq!(climate.read(&mut delay), Err(Error::Crc));
        climate.destroy().done();
        delay.done();
    }

    #[test]
    fn a_bus_error_is_wrapped() {
        let i2c = I2cMock::new(&[I2c::write(ADDR, vec![0x35, 0x17]).with_error(ErrorKind::Other)]);
        let mut delay = CheckedDelay::new(&[]);
        let mut climate = Climate::new(i2c);
        assert_eq!(climate.read(&mut delay), Err(Error::Bus(ErrorKind::Other)));
        climate.destroy().done();
        delay.done();
    }
}
