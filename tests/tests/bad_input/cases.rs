//! The bad (and good) input of `bad_input.rs`: every case on a topic of its own, so that its
//! rejection can be found by topic.

/// What the gateway should do with a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Want {
    /// Stored (and the device registered).
    Stored,
    /// Kept in `/api/v1/rejected` with this reason.
    Rejected(&'static str),
    /// Neither stored nor rejected: the hub's own topics and `cmd`.
    Ignored,
}

/// One message.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub topic: String,
    /// The device id of the topic, when it is a valid one.
    pub device: Option<String>,
    pub payload: Vec<u8>,
    pub retain: bool,
    pub want: Want,
}

/// Every case, bad ones interleaved with good ones.
pub fn cases(site: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut push = |name, channel: &str, payload: Vec<u8>, want: Want| {
        n += 1;
        let device = format!("c{n:02}");
        out.push(Case {
            name,
            topic: format!("linli/{site}/{device}/{channel}"),
            device: Some(device),
            payload,
            retain: false,
            want,
        });
    };
    use Want::{Rejected as R, Stored as S};
    let t = "telemetry";
    let b = |s: &str| s.as_bytes().to_vec();
    let entries = |k: usize| {
        let v: Vec<String> = (0..k).map(|i| format!("\"v{i}\":{i}")).collect();
        v.join(",")
    };
    let many = |k: usize| format!("{{\"values\":{{{}}}}}", entries(k));
    let text = |len: usize| format!("{{\"values\":{{\"s\":\"{}\"}}}}", "x".repeat(len));
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let nested_value = format!("{{\"values\":{{\"v\":{deep}}}}}");
    let nested_unknown = format!("{{\"x\":{deep},\"values\":{{\"v\":1}}}}");

    push(
        "good telemetry",
        t,
        b(r#"{"seq":1,"values":{"temperature_c":21.4,"battery_pct":88}}"#),
        S,
    );
    push(
        "malformed JSON (cut short)",
        t,
        b(r#"{"values":{"v":1}"#),
        R("malformed_json"),
    );
    push("empty payload", t, Vec::new(), R("malformed_json"));
    push(
        "invalid UTF-8 in a string",
        t,
        b"{\"values\":{\"s\":\"\xff\xfe\"}}".to_vec(),
        R("malformed_json"),
    );
    push(
        "invalid UTF-8, no JSON",
        t,
        b"\xff\xfe\xfd\x00".to_vec(),
        R("malformed_json"),
    );
    push(
        "good with ts, bools, unknown fields",
        t,
        b(
            r#"{"ts":1764300000123,"seq":2,"values":{"open":true,"v":-3.5e-7},"firmware_extra":{"a":[1]}}"#,
        ),
        S,
    );
    push("JSON array", t, b("[1,2,3]"), R("wrong_type"));
    push("JSON number", t, b("42"), R("wrong_type"));
    push("JSON string", t, b("\"hello\""), R("wrong_type"));
    push("JSON null", t, b("null"), R("wrong_type"));
    push(
        "values is a string",
        t,
        b(r#"{"values":"hot"}"#),
        R("wrong_type"),
    );
    push(
        "seq is a string",
        t,
        b(r#"{"seq":"7","values":{"v":1}}"#),
        R("wrong_type"),
    );
    push(
        "seq is fractional",
        t,
        b(r#"{"seq":1.5,"values":{"v":1}}"#),
        R("wrong_type"),
    );
    push(
        "value is an object",
        t,
        b(r#"{"values":{"v":{"deep":1}}}"#),
        R("wrong_type"),
    );
    push(
        "value is an array",
        t,
        b(r#"{"values":{"v":[1,2]}}"#),
        R("wrong_type"),
    );
    push(
        "good: 64 values, 256-byte string",
        t,
        format!(
            "{{\"values\":{{{},\"s\":\"{}\"}}}}",
            entries(63),
            "y".repeat(256)
        )
        .into_bytes(),
        S,
    );
    push("values missing", t, b(r#"{"seq":3}"#), R("missing_field"));
    push("values empty", t, b(r#"{"values":{}}"#), R("bad_value"));
    push(
        "value name with a space",
        t,
        b(r#"{"values":{"temp c":1}}"#),
        R("bad_value"),
    );
    push(
        "value name not ASCII",
        t,
        b(r#"{"values":{"温度":21.5}}"#),
        R("bad_value"),
    );
    push("65 values", t, many(65).into_bytes(), R("bad_value"));
    push("257-byte string", t, text(257).into_bytes(), R("bad_value"));
    push(
        "good: largest finite number",
        t,
        b(r#"{"values":{"v":1.7976931348623157e308}}"#),
        S,
    );
    push(
        "number 1e999",
        t,
        b(r#"{"values":{"v":1e999}}"#),
        R("malformed_json"),
    );
    push(
        "NaN literal",
        t,
        b(r#"{"values":{"v":NaN}}"#),
        R("malformed_json"),
    );
    push(
        "negative seq",
        t,
        b(r#"{"seq":-1,"values":{"v":1}}"#),
        R("bad_value"),
    );
    push(
        "negative ts",
        t,
        b(r#"{"ts":-5,"values":{"v":1}}"#),
        R("bad_value"),
    );
    push(
        "value nested 10,000 deep",
        t,
        nested_value.into_bytes(),
        R("wrong_type"),
    );
    // Unknown fields are skipped without recursion: harmless, so stored.
    push(
        "good: unknown field nested 10,000 deep",
        t,
        nested_unknown.into_bytes(),
        S,
    );
    push(
        "duplicate field",
        t,
        b(r#"{"values":{"v":1},"values":{"v":2}}"#),
        R("malformed_json"),
    );
    push(
        "trailing garbage",
        t,
        b(r#"{"values":{"v":1}} trailing"#),
        R("malformed_json"),
    );
    push(
        "trailing NUL",
        t,
        b"{\"values\":{\"v\":1}}\0".to_vec(),
        R("malformed_json"),
    );
    push(
        "byte order mark",
        t,
        "\u{feff}{\"values\":{\"v\":1}}".as_bytes().to_vec(),
        R("malformed_json"),
    );
    push(
        "oversize (70,000 bytes)",
        t,
        text(70_000).into_bytes(),
        R("oversize"),
    );
    push(
        "identity mismatch",
        t,
        b(r#"{"device_id":"someone-else","values":{"v":1}}"#),
        R("identity_mismatch"),
    );
    push(
        "good event",
        "event",
        b(r#"{"seq":1,"type":"sos","data":{"button":1}}"#),
        S,
    );
    push(
        "event without type",
        "event",
        b(r#"{"seq":1}"#),
        R("missing_field"),
    );
    push(
        "event type not a name",
        "event",
        b(r#"{"type":"door forced!"}"#),
        R("bad_value"),
    );
    push(
        "event data an array",
        "event",
        b(r#"{"type":"sos","data":[1]}"#),
        R("wrong_type"),
    );
    push("good status word", "status", b("online"), S);
    push(
        "good status object",
        "status",
        b(r#"{"state":"online","battery_pct":80,"rssi":-70,"fw":"1.2.0"}"#),
        S,
    );
    push("status garbage", "status", b("maybe"), R("malformed_json"));
    push(
        "status unknown state",
        "status",
        b(r#"{"state":"sleeping"}"#),
        R("bad_value"),
    );
    push(
        "status battery 150 %",
        "status",
        b(r#"{"state":"online","battery_pct":150}"#),
        R("bad_value"),
    );
    push(
        "status identity mismatch",
        "status",
        b(r#"{"state":"online","device_id":"x"}"#),
        R("identity_mismatch"),
    );
    push(
        "good announce",
        "announce",
        b(r#"{"kind":"care.pir","location":{"building":3,"unit":"2","floor":-1,"room":"B1"}}"#),
        S,
    );
    push(
        "announce bad kind",
        "announce",
        b(r#"{"kind":"Care SOS"}"#),
        R("bad_value"),
    );
    push(
        "announce without kind",
        "announce",
        b(r#"{"model":"x"}"#),
        R("missing_field"),
    );
    push(
        "announce floor a string",
        "announce",
        b(r#"{"kind":"care.pir","location":{"floor":"five"}}"#),
        R("wrong_type"),
    );
    push(
        "good telemetry, last",
        t,
        b(r#"{"seq":9,"values":{"v":0}}"#),
        S,
    );

    // Topic-level cases.
    let good = b(r#"{"values":{"v":1}}"#);
    let mut topic = |name, topic: String, device: Option<&str>, want| {
        out.push(Case {
            name,
            topic,
            device: device.map(String::from),
            payload: good.clone(),
            retain: false,
            want,
        });
    };
    topic(
        "unknown channel",
        format!("linli/{site}/c90/video"),
        Some("c90"),
        R("unknown_channel"),
    );
    topic(
        "device id with a space",
        format!("linli/{site}/bad id/telemetry"),
        None,
        R("bad_id"),
    );
    topic(
        "device id of 65 bytes",
        format!("linli/{site}/{}/telemetry", "d".repeat(65)),
        None,
        R("bad_id"),
    );
    topic(
        "empty device id",
        format!("linli/{site}//telemetry"),
        None,
        R("bad_id"),
    );
    topic(
        "device id not ASCII",
        format!("linli/{site}/门禁/telemetry"),
        None,
        R("bad_id"),
    );
    topic(
        "reserved id alarms",
        format!("linli/{site}/alarms/a-1"),
        Some("alarms"),
        Want::Ignored,
    );
    topic(
        "reserved id hub",
        format!("linli/{site}/hub/telemetry"),
        Some("hub"),
        Want::Ignored,
    );
    topic(
        "reserved id staff",
        format!("linli/{site}/staff/wang"),
        Some("staff"),
        Want::Ignored,
    );
    topic(
        "cmd channel",
        format!("linli/{site}/c91/cmd"),
        Some("c91"),
        Want::Ignored,
    );
    // Outside the device subscription `linli/{site}/+/+`: never delivered, so neither stored nor
    // rejected.
    topic(
        "extra topic level",
        format!("linli/{site}/c92/telemetry/x"),
        Some("c92"),
        Want::Ignored,
    );
    topic(
        "too few levels",
        format!("linli/{site}/c93"),
        Some("c93"),
        Want::Ignored,
    );
    out
}

/// A rotation of bad `(topic, payload)` pairs for floods.
pub fn bad_payloads(site: &str) -> Vec<(String, Vec<u8>)> {
    cases(site)
        .into_iter()
        .filter(|c| matches!(c.want, Want::Rejected(_)))
        .map(|c| (c.topic, c.payload))
        .collect()
}
