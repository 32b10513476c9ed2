//! What a person reads, in zh-CN or en: severity, what happened, where, when, how long it has been
//! open, who else was told, residents (only for roles that need them: PIPL minimisation) and the
//! acknowledgement link. One [`Rendered`] per delivery, in the forms the channels take.

use linli_protocols::{Severity, StaffNotification};

use crate::alarms::{place_text, what};

/// Everything a message says, already filtered for its reader.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The notification.
    pub body: &'a StaffNotification,
    /// `zh-CN` or `en`.
    pub lang: &'a str,
    /// Residents' names, empty unless the reader's role may see them.
    pub residents: &'a [String],
    /// Names of the others told.
    pub also_told: Vec<String>,
    /// The acknowledgement link.
    pub ack_url: &'a str,
    /// Now, ms.
    pub now: u64,
    /// The site's offset from UTC, seconds.
    pub utc_offset: i32,
}

/// One message in every form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// Subject line.
    pub title: String,
    /// Plain text, several lines.
    pub text: String,
    /// HTML (e-mail).
    pub html: String,
    /// Markdown (group robots).
    pub markdown: String,
    /// One short paragraph (SMS).
    pub short: String,
}

/// Renders `f`.
pub fn render(f: &Facts<'_>) -> Rendered {
    let zh = f.lang.starts_with("zh");
    let b = f.body;
    let label = |cn: &'static str, en: &'static str| if zh { cn } else { en };
    let mut what_text = what(zh, &b.rule);
    if let Some(d) = &b.device_id {
        what_text = if zh {
            format!("{what_text}（设备 {d}）")
        } else {
            format!("{what_text} (device {d})")
        };
    }
    let when = format!(
        "{} ({} {})",
        local_time(b.raised_at, f.utc_offset),
        label("已持续", "open for"),
        open_for(zh, f.now.saturating_sub(b.raised_at))
    );
    let mut rows: Vec<(&str, String)> = vec![
        (label("级别", "Severity"), severity(zh, b.severity).into()),
        (label("事件", "What"), what_text),
        (label("地点", "Where"), place_text(zh, &b.place)),
    ];
    if !f.residents.is_empty() {
        rows.push((
            label("住户", "Residents"),
            f.residents.join(label("、", ", ")),
        ));
    }
    rows.push((label("时间", "When"), when));
    rows.push((
        label("同时通知", "Also told"),
        if f.also_told.is_empty() {
            label("无", "no one else").into()
        } else {
            f.also_told.join(label("、", ", "))
        },
    ));
    let ack = label("一键确认接单", "Acknowledge with one tap");
    let sep = label("：", ": ");

    let mut text = format!("{}\n\n", b.title);
    for (k, v) in &rows {
        text.push_str(&format!("{k}{sep}{v}\n"));
    }
    text.push_str(&format!("\n{ack}{sep}{}\n", f.ack_url));

    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><table>",
        escape(&b.title)
    );
    for (k, v) in &rows {
        html.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    html.push_str(&format!(
        "</table><p><a href=\"{url}\" style=\"font-size:1.3em\">{}</a></p><p>{url}</p></body></html>",
        escape(ack),
        url = escape(f.ack_url)
    ));

    let mut markdown = format!("### {}\n", b.title);
    for (k, v) in &rows {
        markdown.push_str(&format!("> **{k}**{sep}{v}\n\n"));
    }
    markdown.push_str(&format!("[{ack}]({})\n", f.ack_url));

    let short = format!("{} {ack}{sep}{}", b.title, f.ack_url);
    Rendered {
        title: b.title.clone(),
        text,
        html,
        markdown,
        short,
    }
}

fn severity(zh: bool, s: Severity) -> &'static str {
    match (zh, s) {
        (true, Severity::Critical) => "紧急",
        (true, Severity::Major) => "重要",
        (true, Severity::Minor) => "一般",
        (true, Severity::Warning) => "提示",
        (true, Severity::Info) => "信息",
        (false, s) => s.as_str(),
    }
}

/// `2025-11-28 03:12:05 UTC+08:00`.
pub fn local_time(ms: u64, utc_offset: i32) -> String {
    let secs = i64::try_from(ms / 1_000).unwrap_or(i64::MAX) + i64::from(utc_offset);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let sign = if utc_offset < 0 { '-' } else { '+' };
    let off = utc_offset.unsigned_abs();
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC{sign}{:02}:{:02}",
        rem / 3_600,
        rem % 3_600 / 60,
        rem % 60,
        off / 3_600,
        off % 3_600 / 60
    )
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

fn open_for(zh: bool, ms: u64) -> String {
    let minutes = ms / 60_000;
    match (zh, minutes) {
        (true, 0) => "不到 1 分钟".into(),
        (false, 0) => "under a minute".into(),
        (true, m) if m < 60 => format!("{m} 分钟"),
        (false, m) if m < 60 => format!("{m} min"),
        (true, m) => format!("{} 小时 {} 分钟", m / 60, m % 60),
        (false, m) => format!("{} h {} min", m / 60, m % 60),
    }
}

/// HTML text escaping.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use linli_protocols::Place;

    fn body() -> StaffNotification {
        StaffNotification {
            key: "7:0:0:0:wang".into(),
            alarm_id: "7".into(),
            rule: "sos".into(),
            class: "care.sos_button".into(),
            severity: Severity::Critical,
            title: "【紧急】SOS 求助 · 3号楼 2单元 502".into(),
            place: Place {
                building: Some("3".into()),
                unit: Some("2".into()),
                floor: Some(5),
                room: Some("502".into()),
            },
            device_id: Some("sos-3-502".into()),
            household: Some("h-3-502".into()),
            raised_at: 1_764_300_000_000,
            step: 0,
            also_told: vec!["li".into()],
        }
    }

    #[test]
    fn chinese_text_says_what_where_when_who_and_how_to_ack() {
        let b = body();
        let residents = vec!["张奶奶".to_string()];
        let r = render(&Facts {
            body: &b,
            lang: "zh-CN",
            residents: &residents,
            also_told: vec!["李师傅".into()],
            ack_url: "http://hub/ack/T<1>",
            now: b.raised_at + 125_000,
            utc_offset: 8 * 3_600,
        });
        for part in [
            "【紧急】SOS 求助",
            "级别：紧急",
            "SOS 求助（设备 sos-3-502）",
            "3号楼 2单元 502",
            "住户：张奶奶",
            "2025-11-28 11:20:00 UTC+08:00",
            "已持续 2 分钟",
            "同时通知：李师傅",
            "一键确认接单：http://hub/ack/T<1>",
        ] {
            assert!(r.text.contains(part), "{part} missing from\n{}", r.text);
        }
        assert!(r.html.contains("http://hub/ack/T&lt;1&gt;"));
        assert!(!r.html.contains("T<1>"));
        assert!(r.markdown.starts_with("### 【紧急】SOS"));
        assert!(r.short.contains("http://hub/ack/T<1>"));
    }

    #[test]
    fn english_text_without_residents_names_none() {
        let b = body();
        let r = render(&Facts {
            body: &b,
            lang: "en",
            residents: &[],
            also_told: vec![],
            ack_url: "http://hub/ack/x",
            now: b.raised_at + 3 * 3_600_000 + 5 * 60_000,
            utc_offset: -5 * 3_600,
        });
        assert!(
            r.text.contains("Where: building 3 unit 2 room 502"),
            "{}",
            r.text
        );
        assert!(r.text.contains("open for 3 h 5 min"), "{}", r.text);
        assert!(
            r.text.contains("2025-11-27 22:20:00 UTC-05:00"),
            "{}",
            r.text
        );
        assert!(r.text.contains("Also told: no one else"));
        assert!(!r.text.contains("Residents"));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
