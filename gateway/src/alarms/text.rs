//! One-line titles in the staff member's language.

use linli_protocols::{Place, Severity};

/// A title like `【紧急】SOS 求助 · 3号楼 2单元 502` or `[CRITICAL] SOS · building 3 unit 2 room 502`.
pub fn title(lang: &str, severity: Severity, rule: &str, place: &Place) -> String {
    let zh = lang.starts_with("zh");
    let level = match (zh, severity) {
        (true, Severity::Critical) => "【紧急】",
        (true, Severity::Major) => "【重要】",
        (true, Severity::Minor) => "【一般】",
        (true, Severity::Warning) => "【提示】",
        (true, Severity::Info) => "【信息】",
        (false, s) => {
            return format!(
                "[{}] {} · {}",
                s.as_str().to_uppercase(),
                what(false, rule),
                place_text(false, place)
            );
        }
    };
    format!("{level}{} · {}", what(true, rule), place_text(true, place))
}

/// What happened, in words (`SOS 求助` / `SOS`).
pub fn what(zh: bool, rule: &str) -> String {
    let (cn, en) = match rule {
        "sos" => ("SOS 求助", "SOS"),
        "fall" => ("跌倒报警", "fall detected"),
        "smoke" => ("烟雾报警", "smoke"),
        "gas" => ("燃气泄漏", "gas leak"),
        "water_leak" => ("漏水报警", "water leak"),
        "door_forced" => ("门被强行打开", "door forced"),
        "door_held_open" | "door_left_open" => ("门长时间未关", "door held open"),
        "denied_credentials" => ("连续刷卡失败", "repeated denied credentials"),
        "tamper" => ("设备被拆", "tamper"),
        "device_offline" => ("设备离线", "device offline"),
        "battery_low" => ("电量低", "battery low"),
        "inactivity" => (
            "独居老人长时间无活动",
            "no activity of a senior living alone",
        ),
        "low_water_use" => (
            "独居老人用水异常偏少",
            "unusually low water use of a senior living alone",
        ),
        "tank_low" => ("水箱水位低", "water tank low"),
        "hydrant_pressure_low" => ("消火栓压力低", "hydrant pressure low"),
        other => return other.replace('_', " "),
    };
    (if zh { cn } else { en }).to_string()
}

/// Where, in words (`3号楼 2单元 502` / `building 3 unit 2 room 502`).
pub fn place_text(zh: bool, p: &Place) -> String {
    let mut parts = Vec::new();
    if let Some(b) = &p.building {
        parts.push(if zh {
            format!("{b}号楼")
        } else {
            format!("building {b}")
        });
    }
    if let Some(u) = &p.unit {
        parts.push(if zh {
            format!("{u}单元")
        } else {
            format!("unit {u}")
        });
    }
    if let Some(r) = &p.room {
        parts.push(if zh { r.clone() } else { format!("room {r}") });
    }
    if parts.is_empty() {
        return if zh {
            "位置未登记".into()
        } else {
            "location not set".into()
        };
    }
    parts.join(" ")
}
