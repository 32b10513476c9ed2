//! Small pieces of HTML shared by the pages: escaping, times in the site's zone, badges, tables
//! that fold into cards on a phone, and a hand-written SVG line chart.

use std::fmt::Write;

use linli_protocols::{Handling, Severity, Value};

use super::i18n::{Lang, T};

/// HTML-escapes text.
pub fn esc(s: &str) -> String {
    crate::notify::text::escape(s)
}

/// `+08:00`.
pub fn offset(utc_offset: i32) -> String {
    let sign = if utc_offset < 0 { '-' } else { '+' };
    let off = utc_offset.unsigned_abs();
    format!("{sign}{:02}:{:02}", off / 3_600, off % 3_600 / 60)
}

/// `YYYY-MM-DD HH:MM:SS` in the site's zone.
pub fn full_time(ms: u64, utc_offset: i32) -> String {
    let t = crate::notify::text::local_time(ms, utc_offset);
    t.get(..19).unwrap_or(&t).to_string()
}

/// A `<time>`: short (`MM-DD HH:MM:SS`) on the page, the full time on hover.
pub fn time(ms: u64, utc_offset: i32) -> String {
    let full = full_time(ms, utc_offset);
    format!(
        "<time datetime=\"{ms}\" title=\"{full}\">{}</time>",
        full.get(5..).unwrap_or(&full)
    )
}

/// A time or a dash.
pub fn time_or_dash(ms: Option<u64>, utc_offset: i32) -> String {
    ms.map_or_else(|| "—".into(), |t| time(t, utc_offset))
}

/// How long since `then`, in words (`3 分钟` / `3 min`); the script keeps it current.
pub fn age(lang: Lang, now: u64, then: u64) -> String {
    let s = now.saturating_sub(then) / 1_000;
    let (n, unit) = match s {
        0..60 => (s, T::Seconds),
        60..3_600 => (s / 60, T::Minutes),
        3_600..86_400 => (s / 3_600, T::Hours),
        _ => (s / 86_400, T::Days),
    };
    let sep = if lang.zh() { "" } else { " " };
    format!(
        "<span class=\"age\" data-since=\"{then}\">{n}{sep}{}</span>",
        lang.t(unit)
    )
}

/// The severity's word.
pub fn severity_text(lang: Lang, s: Severity) -> &'static str {
    let (zh, en) = match s {
        Severity::Critical => ("紧急", "Critical"),
        Severity::Major => ("重要", "Major"),
        Severity::Minor => ("一般", "Minor"),
        Severity::Warning => ("提示", "Warning"),
        Severity::Info => ("信息", "Info"),
    };
    if lang.zh() { zh } else { en }
}

/// A coloured severity badge.
pub fn severity_badge(lang: Lang, s: Severity) -> String {
    format!(
        "<span class=\"badge sev-{}\">{}</span>",
        s.as_str(),
        severity_text(lang, s)
    )
}

/// A handling-status badge.
pub fn status_badge(lang: Lang, h: Handling) -> String {
    let text = match h {
        Handling::Open => T::StatusOpen,
        Handling::Acknowledged => T::StatusAcked,
        Handling::Resolved => T::StatusResolved,
    };
    format!(
        "<span class=\"status st-{}\" data-status=\"{}\">{}</span>",
        h.as_str(),
        h.as_str(),
        lang.t(text)
    )
}

/// A value as text.
pub fn value(v: &Value) -> String {
    match v {
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 1e15 => format!("{n:.0}"),
        Value::Number(n) => format!("{:.2}", n),
        Value::Bool(b) => b.to_string(),
        Value::Text(t) => t.clone(),
    }
}

/// A table whose rows fold into labelled cards on a narrow screen (each cell carries its
/// column's name in `data-label`). Cells are HTML already.
pub fn table(class: &str, headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<div class=\"table-wrap\"><table class=\"list {class}\"><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (cell, h) in row.iter().zip(headers) {
            let _ = write!(out, "<td data-label=\"{}\">{cell}</td>", esc(h));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A `<select>` with "all" first; `current` is selected.
pub fn select(
    name: &str,
    label: &str,
    all: &str,
    options: &[(String, String)],
    current: Option<&str>,
) -> String {
    let mut out = format!(
        "<label>{}<select name=\"{name}\"><option value=\"\">{}</option>",
        esc(label),
        esc(all)
    );
    for (value, text) in options {
        let selected = if current == Some(value.as_str()) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            esc(value),
            esc(text)
        );
    }
    out.push_str("</select></label>");
    out
}

/// One series of a chart: its name and `(time ms, value)` points, oldest first.
#[derive(Debug, Clone)]
pub struct Series {
    /// Name (a telemetry key).
    pub name: String,
    /// Points.
    pub points: Vec<(u64, f64)>,
}

/// A line chart of one series as inline SVG: no script, no library. The SVG stretches to its
/// box, so it holds only lines; the labels are HTML around it and keep their size.
pub fn chart(series: &Series, utc_offset: i32) -> String {
    const W: f64 = 600.0;
    const H: f64 = 160.0;
    const PAD: f64 = 6.0;
    let pts = &series.points;
    let (Some(first), Some(last)) = (pts.first(), pts.last()) else {
        return String::new();
    };
    let (t0, t1) = (first.0, last.0.max(first.0 + 1));
    let (mut lo, mut hi) = pts.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| {
        (lo.min(p.1), hi.max(p.1))
    });
    let (min, max) = (lo, hi);
    if (hi - lo).abs() < f64::EPSILON {
        lo -= 1.0;
        hi += 1.0;
    }
    let x = |t: u64| (t - t0) as f64 / (t1 - t0) as f64 * W;
    let y = |v: f64| PAD + (hi - v) / (hi - lo) * (H - 2.0 * PAD);
    let mut path = String::new();
    for (i, (t, v)) in pts.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            x(*t),
            y(*v)
        );
    }
    let number = |v: f64| {
        if v.fract() == 0.0 || (hi - lo) >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.2}")
        }
    };
    let mut grid = String::new();
    for v in [hi, (lo + hi) / 2.0, lo] {
        let _ = write!(
            grid,
            "<line class=\"grid\" x1=\"0\" x2=\"{W}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>",
            y = y(v)
        );
    }
    let (from, to) = (full_time(t0, utc_offset), full_time(t1, utc_offset));
    format!(
        "<figure class=\"chart\"><figcaption><strong>{name}</strong><span class=\"latest\">{latest}</span></figcaption>\
         <div class=\"range\"><span>▲ {max}</span><span>▼ {min}</span></div>\
         <svg viewBox=\"0 0 {W} {H}\" role=\"img\" aria-label=\"{name}: {n} points, {min} to {max}\" preserveAspectRatio=\"none\">\
         {grid}<path class=\"line\" d=\"{path}\"/></svg>\
         <div class=\"axis\"><span>{from}</span><span>{to}</span></div></figure>",
        name = esc(&series.name),
        n = pts.len(),
        latest = number(last.1),
        max = number(max),
        min = number(min),
        from = from.get(5..16).unwrap_or(&from),
        to = to.get(5..16).unwrap_or(&to),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_draws_one_segment_per_point_within_its_box() {
        let s = Series {
            name: "temperature_c".into(),
            points: vec![(0, 20.0), (60_000, 21.5), (120_000, 19.0)],
        };
        let svg = chart(&s, 8 * 3_600);
        let path = svg
            .split("d=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap();
        let points: Vec<(f64, f64)> = path
            .split(['M', 'L'])
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (x, y) = p.trim().split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        // Three points across the full width; the highest value at the top, the lowest at the
        // bottom of the plot area (y 6..154 of 160).
        assert_eq!(points.len(), 3, "{svg}");
        assert_eq!((points[0].0, points[2].0), (0.0, 600.0), "{svg}");
        assert_eq!((points[1].1, points[2].1), (6.0, 154.0), "{svg}");
        assert!(points[0].1 > 6.0 && points[0].1 < 154.0, "{svg}");
        assert!(svg.contains("temperature_c"));
        assert!(
            chart(
                &Series {
                    name: "x".into(),
                    points: vec![]
                },
                0
            )
            .is_empty()
        );
        // A flat series still has a height.
        let flat = chart(
            &Series {
                name: "x".into(),
                points: vec![(0, 5.0), (1, 5.0)],
            },
            0,
        );
        assert!(!flat.contains("NaN") && !flat.contains("inf"), "{flat}");
    }

    #[test]
    fn times_are_in_the_site_zone() {
        // 2026-01-01 00:00:00 UTC is 08:00 in Beijing.
        assert_eq!(
            full_time(1_767_225_600_000, 8 * 3_600),
            "2026-01-01 08:00:00"
        );
        assert_eq!(offset(8 * 3_600), "+08:00");
        assert_eq!(offset(-5 * 3_600 - 1_800), "-05:30");
    }

    #[test]
    fn tables_label_their_cells_and_escape_headers() {
        let t = table("x", &["a<b"], &[vec!["<b>1</b>".into()]]);
        assert!(t.contains("data-label=\"a&lt;b\"><b>1</b>"), "{t}");
    }
}
