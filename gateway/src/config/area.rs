//! Areas scope staff: `*`, `building:3`, `building:3/unit:2`, `grid:7`.

use std::fmt;

/// A part of the site.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Area {
    /// The whole site.
    All,
    /// One building.
    Building(String),
    /// One unit (entrance) of a building.
    Unit(String, String),
    /// A grid of buildings (see `[[grid]]`).
    Grid(String),
}

impl Area {
    /// Parses the text form; `Err` says what is expected.
    pub fn parse(text: &str) -> Result<Area, String> {
        let bad = || {
            format!(
                "`{text}` is not an area; write \"*\", \"building:3\", \"building:3/unit:2\" or \"grid:7\""
            )
        };
        if text == "*" {
            return Ok(Area::All);
        }
        let (head, unit) = match text.split_once('/') {
            Some((h, u)) => (
                h,
                Some(
                    u.strip_prefix("unit:")
                        .filter(|u| !u.is_empty())
                        .ok_or_else(bad)?,
                ),
            ),
            None => (text, None),
        };
        match (head.split_once(':'), unit) {
            (Some(("building", b)), None) if !b.is_empty() => Ok(Area::Building(b.into())),
            (Some(("building", b)), Some(u)) if !b.is_empty() => Ok(Area::Unit(b.into(), u.into())),
            (Some(("grid", g)), None) if !g.is_empty() => Ok(Area::Grid(g.into())),
            _ => Err(bad()),
        }
    }
}

impl fmt::Display for Area {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Area::All => f.write_str("*"),
            Area::Building(b) => write!(f, "building:{b}"),
            Area::Unit(b, u) => write!(f, "building:{b}/unit:{u}"),
            Area::Grid(g) => write!(f, "grid:{g}"),
        }
    }
}

/// Minutes since local midnight at which quiet hours start and end (`"22:00-07:00"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuietHours {
    /// Start, minutes after midnight.
    pub start: u32,
    /// End, minutes after midnight (may be before `start`: the span crosses midnight).
    pub end: u32,
}

impl QuietHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Result<QuietHours, String> {
        let minutes = |hm: &str| -> Option<u32> {
            let (h, m) = hm.trim().split_once(':')?;
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60).then_some(h * 60 + m)
        };
        text.split_once('-')
            .and_then(|(a, b)| {
                Some(QuietHours {
                    start: minutes(a)?,
                    end: minutes(b)?,
                })
            })
            .ok_or_else(|| format!("`{text}` is not a span like \"22:00-07:00\""))
    }

    /// True when `minute` (since local midnight) falls inside.
    pub fn contains(&self, minute: u32) -> bool {
        if self.start <= self.end {
            (self.start..self.end).contains(&minute)
        } else {
            minute >= self.start || minute < self.end
        }
    }
}

/// Parses a UTC offset `+08:00` into seconds.
pub fn parse_utc_offset(text: &str) -> Result<i32, String> {
    let bad = || format!("`{text}` is not a UTC offset like \"+08:00\"");
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'+') => (1, &text[1..]),
        Some(b'-') => (-1, &text[1..]),
        _ => return Err(bad()),
    };
    let (h, m) = rest.split_once(':').ok_or_else(bad)?;
    let (h, m): (i32, i32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(sign * (h * 3_600 + m * 60))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn areas_parse_and_print() {
        for text in ["*", "building:3", "building:3/unit:2", "grid:7"] {
            assert_eq!(Area::parse(text).unwrap().to_string(), text);
        }
        for bad in [
            "",
            "building:",
            "building:3/room:1",
            "grid:7/unit:1",
            "street:1",
            "building:3/unit:",
        ] {
            assert!(Area::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn quiet_hours_cross_midnight() {
        let q = QuietHours::parse("22:00-07:00").unwrap();
        assert!(q.contains(23 * 60) && q.contains(0) && q.contains(6 * 60 + 59));
        assert!(!q.contains(7 * 60) && !q.contains(12 * 60));
        let day = QuietHours::parse("13:00-14:30").unwrap();
        assert!(day.contains(13 * 60 + 30) && !day.contains(14 * 60 + 30));
        assert!(QuietHours::parse("25:00-01:00").is_err());
    }

    #[test]
    fn utc_offsets() {
        assert_eq!(parse_utc_offset("+08:00"), Ok(28_800));
        assert_eq!(parse_utc_offset("-03:30"), Ok(-12_600));
        assert!(parse_utc_offset("08:00").is_err());
        assert!(parse_utc_offset("+15:00").is_err());
    }
}
