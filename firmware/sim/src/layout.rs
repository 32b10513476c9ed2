//! Who lives where, and which devices they have.

use rand::Rng;
use rand::rngs::StdRng;

use crate::SimConfig;

/// Households per building, units per building.
const PER_BUILDING: usize = 100;
const UNITS: usize = 2;
/// Family names for residents (simulated people; no real data).
const NAMES: [&str; 8] = ["王", "李", "张", "刘", "陈", "杨", "赵", "黄"];

/// A simulated device.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    /// Device id.
    pub id: String,
    /// Dotted kind.
    pub kind: &'static str,
    /// Building.
    pub building: usize,
    /// Unit, for in-home devices.
    pub unit: Option<usize>,
    /// Room, for in-home devices.
    pub room: Option<String>,
    /// Floor.
    pub floor: Option<i32>,
    /// Household index, for in-home devices.
    pub household: Option<usize>,
    /// Heartbeat period, s.
    pub heartbeat_s: u32,
    /// Next sequence number.
    pub seq: u64,
    /// Cumulative meter reading (m³) or level (%), depending on the kind.
    pub level: f64,
    /// Dropped out: sends nothing.
    pub silent: bool,
    /// The resident is away or unwell: in-home activity sensors stay quiet.
    pub quiet: bool,
}

/// A simulated household.
#[derive(Debug, Clone, PartialEq)]
pub struct Household {
    /// Household id.
    pub id: String,
    /// Building (1-based).
    pub building: usize,
    /// Unit (1-based).
    pub unit: usize,
    /// Room number.
    pub room: String,
    /// A senior living alone.
    pub living_alone: bool,
    /// The resident (a simulated name).
    pub resident: String,
    /// Device ids.
    pub devices: Vec<String>,
}

fn device(id: String, kind: &'static str, building: usize, heartbeat_s: u32) -> Device {
    Device {
        id,
        kind,
        building,
        unit: None,
        room: None,
        floor: None,
        household: None,
        heartbeat_s,
        seq: 1,
        level: 0.0,
        silent: false,
        quiet: false,
    }
}

pub(crate) fn build(config: &SimConfig, rng: &mut StdRng) -> (Vec<Device>, Vec<Household>) {
    let mut devices = Vec::new();
    let mut households = Vec::new();
    let buildings = config.households.div_ceil(PER_BUILDING).max(1);
    for n in 0..config.households {
        let building = n / PER_BUILDING + 1;
        let unit = n % UNITS + 1;
        let floor = (n % PER_BUILDING / UNITS / 5 + 1) as i32;
        let room = format!("{floor}{:02}", n % PER_BUILDING / UNITS % 5 + 1);
        let id = format!("h{building}-{unit}-{room}");
        let living_alone = rng.random_bool(config.living_alone_share.clamp(0.0, 1.0));
        let mut mine = vec![
            ("wm", "care.water_meter", 1_800),
            ("sm", "facility.smoke", 3_600),
        ];
        if living_alone {
            mine.extend([
                ("pir", "care.pir", 600),
                ("door", "care.door_contact", 600),
                ("sos", "care.sos_button", 600),
            ]);
        }
        let mut ids = Vec::new();
        for (prefix, kind, heartbeat) in mine {
            let mut d = device(
                format!("{prefix}-{building}-{unit}-{room}"),
                kind,
                building,
                heartbeat,
            );
            d.unit = Some(unit);
            d.room = Some(room.clone());
            d.floor = Some(floor);
            d.household = Some(households.len());
            d.level = if kind == "care.water_meter" {
                rng.random_range(10.0..500.0_f64).round()
            } else {
                0.0
            };
            ids.push(d.id.clone());
            devices.push(d);
        }
        households.push(Household {
            id,
            building,
            unit,
            room,
            living_alone,
            resident: format!(
                "{}{}",
                NAMES[n % NAMES.len()],
                if n % 2 == 0 { "阿姨" } else { "伯伯" }
            ),
            devices: ids,
        });
    }
    for b in 1..=buildings {
        devices.push(device(format!("gate-{b}"), "access.gate", b, 60));
        devices.push(device(format!("lift-{b}"), "facility.elevator", b, 60));
        let mut leak = device(format!("leak-{b}"), "facility.water_leak", b, 3_600);
        leak.floor = Some(-1);
        devices.push(leak);
    }
    for (prefix, kind, count, heartbeat, level) in [
        ("tank", "facility.water_tank", 2, 60, 80.0),
        ("hydrant", "facility.hydrant", 4, 600, 0.35),
        ("manhole", "facility.manhole", 4, 3_600, 1.0),
        ("air", "facility.air", 2, 300, 600.0),
    ] {
        for i in 1..=count {
            let mut d = device(
                format!("{prefix}-{i}"),
                kind,
                (i - 1) % buildings + 1,
                heartbeat,
            );
            d.level = level;
            devices.push(d);
        }
    }
    (devices, households)
}
