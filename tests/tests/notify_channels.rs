//! Notification channels against real receivers on 127.0.0.1: a signed webhook, WeCom and
//! DingTalk group-robot formats (with DingTalk's signature), residents' names only for roles that
//! need them, receipts in the alarm's timeline, SOS → webhook latency; and e-mail through a real
//! SMTP server (aiosmtpd) whose acknowledgement link acknowledges the alarm.

// A test target: helpers outside #[test] functions panic on failure too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod notify_support;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use linli_tests::{Broker, Gateway, PubOptions, Publisher, now_ms, wait_for};
use notify_support::{
    Api, Mode, Receiver, Smtp, dingtalk_sign, expected_signature, percentile, sos_devices,
};
use serde_json::{Value, json};

/// The tests of this file measure latencies: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn staff(id: &str, name: &str, role: &str, lang: &str, notify: &str) -> String {
    format!(
        "[[staff]]\nid = \"{id}\"\nname = \"{name}\"\nroles = [\"{role}\"]\n\
         token = \"token-{id}-0123456789\"\nlang = \"{lang}\"\nnotify = [{notify}]\n\n"
    )
}

fn token(id: &str) -> String {
    format!("token-{id}-0123456789")
}

fn sos(publisher: &mut Publisher, site: &str, device: &str) {
    publisher
        .publish_json(site, device, "event", &json!({ "type": "sos" }), false)
        .unwrap();
}

/// The request of `receiver` to `path` about `device`'s alarm.
fn webhook_for(
    receiver: &Receiver,
    path: &str,
    device: &str,
    deadline: Duration,
) -> notify_support::Request {
    wait_for(deadline, &format!("a webhook about {device}"), || {
        receiver
            .requests()
            .into_iter()
            .find(|r| r.target == path && r.json()["notification"]["device_id"] == device)
    })
    .unwrap_or_else(|e| panic!("{e:#}; received {:?}", receiver.summary()))
}

#[test]
fn webhook_wecom_and_dingtalk_get_their_formats_signed_and_receipted() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SITE: &str = "notify-formats";
    const SAMPLES: usize = 100;
    let started = Instant::now();
    let hook = Receiver::start(Mode::Ok).unwrap();
    let wecom = Receiver::start(Mode::Robot).unwrap();
    let dingtalk = Receiver::start(Mode::Robot).unwrap();
    let extra = format!(
        "{}{}{}{}{}\
         [[household]]\nid = \"h-100\"\nresidents = [\"张奶奶\"]\ndevices = [\"sos-000\"]\n\
         location = {{ building = \"3\", unit = \"2\", room = \"100\" }}\n\n{}",
        staff(
            "wang",
            "王阿姨",
            "caretaker",
            "zh-CN",
            &format!(
                "{{ webhook = \"{}\", secret = \"whsec-wang-0123\" }}",
                hook.url("/hook/wang")
            )
        ),
        staff(
            "li",
            "Li Wei",
            "caretaker",
            "en",
            &format!(
                "{{ wecom = \"{}\" }}",
                wecom.url("/cgi-bin/webhook/send?key=wecom-robot-key")
            )
        ),
        staff(
            "zhao",
            "赵师傅",
            "grid_worker",
            "zh-CN",
            &format!(
                "{{ dingtalk = \"{}\", secret = \"SEC-ding-secret\" }}",
                dingtalk.url("/robot/send?access_token=ding-token")
            )
        ),
        // A volunteer sees care alarms but not residents' names (PIPL minimisation).
        staff(
            "sun",
            "孙志愿者",
            "volunteer",
            "zh-CN",
            &format!("{{ webhook = \"{}\" }}", hook.url("/hook/sun"))
        ),
        "",
        sos_devices(SAMPLES + 1),
    );
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, &extra).unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "notify-formats-pub")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();

    sos(&mut publisher, SITE, "sos-000");
    let wait = Duration::from_secs(15);
    // Generic webhook: JSON, HMAC signature over the exact body, idempotency key.
    let to_wang = webhook_for(&hook, "/hook/wang", "sos-000", wait);
    assert_eq!(to_wang.method, "POST");
    assert_eq!(to_wang.target, "/hook/wang");
    assert_eq!(to_wang.header("content-type"), Some("application/json"));
    assert_eq!(
        to_wang.header("x-linli-signature").unwrap(),
        expected_signature("whsec-wang-0123", &to_wang.body)
    );
    let body = to_wang.json();
    let key = body["key"].as_str().unwrap();
    assert_eq!(to_wang.header("idempotency-key"), Some(key));
    let alarm_id = body["notification"]["alarm_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(key.starts_with(&format!("{alarm_id}:")), "{key}");
    assert_eq!(body["staff_id"], "wang");
    assert_eq!(body["notification"]["rule"], "sos");
    assert_eq!(body["notification"]["severity"], "critical");
    let ack_url = body["ack_url"].as_str().unwrap();
    assert!(
        ack_url.starts_with(&format!("http://127.0.0.1:{}/ack/", gw.http_port())),
        "{ack_url}"
    );
    let text = body["text"].as_str().unwrap();
    for part in [
        "SOS 求助",
        "3号楼 2单元 100",
        "住户：张奶奶",
        "同时通知：",
        "Li Wei",
        ack_url,
    ] {
        assert!(text.contains(part), "`{part}` missing from\n{text}");
    }
    assert_eq!(body["residents"], json!(["张奶奶"]));

    let to_sun = wait_for(wait, "the volunteer's webhook", || {
        hook.requests()
            .into_iter()
            .find(|r| r.target == "/hook/sun")
    })
    .unwrap();
    assert_eq!(
        to_sun.header("x-linli-signature"),
        None,
        "no secret, no signature"
    );
    let sun = to_sun.json();
    assert!(sun.get("residents").is_none(), "{sun}");
    assert!(!String::from_utf8_lossy(&to_sun.body).contains("张奶奶"));

    // WeCom group robot: exactly its markdown message shape.
    let w = wecom.wait_answered(1, wait).unwrap().remove(0);
    assert_eq!(w.target, "/cgi-bin/webhook/send?key=wecom-robot-key");
    let wj = w.json();
    assert_eq!(wj.as_object().unwrap().len(), 2, "{wj}");
    assert_eq!(wj["msgtype"], "markdown");
    assert_eq!(wj["markdown"].as_object().unwrap().len(), 1, "{wj}");
    let content = wj["markdown"]["content"].as_str().unwrap();
    assert!(content.starts_with("### [CRITICAL] SOS"), "{content}");
    assert!(content.contains("**Residents**: 张奶奶"), "{content}");
    assert!(content.contains("/ack/"), "{content}");

    // DingTalk group robot: markdown with title and text; timestamp + HMAC sign on the URL.
    let d = dingtalk.wait_answered(1, wait).unwrap().remove(0);
    assert_eq!(d.query("access_token").as_deref(), Some("ding-token"));
    let timestamp = d.query("timestamp").expect("timestamp");
    let ts: u64 = timestamp.parse().unwrap();
    assert!(now_ms().abs_diff(ts) < 60_000, "timestamp {ts}");
    assert_eq!(
        d.query("sign").unwrap(),
        dingtalk_sign("SEC-ding-secret", &timestamp)
    );
    let dj = d.json();
    assert_eq!(dj.as_object().unwrap().len(), 2, "{dj}");
    assert_eq!(dj["msgtype"], "markdown");
    assert!(dj["markdown"]["title"].as_str().unwrap().contains("SOS"));
    assert!(dj["markdown"]["text"].as_str().unwrap().contains("住户"));

    // Receipts: in the alarm's timeline and the audit trail.
    let api = Api::new(gw.http_port(), &token("zhao"));
    let alarm = wait_for(wait, "four delivery receipts", || {
        let a = api.json(&format!("/api/v1/alarms/{alarm_id}")).ok()?;
        (a["receipts"].as_array()?.len() >= 4).then_some(a)
    })
    .unwrap();
    let receipts = alarm["receipts"].as_array().unwrap();
    for (staff, channel) in [
        ("wang", "webhook"),
        ("li", "wecom"),
        ("zhao", "dingtalk"),
        ("sun", "webhook"),
    ] {
        let r = receipts
            .iter()
            .find(|r| r["staff_id"] == staff)
            .unwrap_or_else(|| panic!("no receipt for {staff}: {alarm}"));
        assert_eq!(r["channel"], channel, "{r}");
        assert_eq!(r["result"], "delivered", "{r}");
        assert_eq!(r["attempt"], 1, "{r}");
        assert!(r["detail"].as_str().unwrap().contains("HTTP 200"), "{r}");
        assert!(r["latency_ms"].as_u64().is_some(), "{r}");
        assert!(
            !r["target"].as_str().unwrap().contains("key="),
            "robot keys stay out of receipts: {r}"
        );
    }
    let timeline = alarm["timeline"].as_array().unwrap();
    let delivered = timeline.iter().filter(|e| e["what"] == "delivered").count();
    assert!(delivered >= 4, "{alarm}");
    let audit = api
        .json(&format!("/api/v1/audit?alarm_id={alarm_id}"))
        .unwrap();
    let audited = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "delivered")
        .count();
    assert!(audited >= 4, "{audit}");

    // SOS publish → webhook received, one alarm at a time: each must arrive (`webhook_for` fails
    // otherwise); the time it took is printed, not asserted (the benchmark measures it).
    let mut latencies = Vec::with_capacity(SAMPLES);
    for i in 1..=SAMPLES {
        let device = format!("sos-{i:03}");
        let t0 = Instant::now();
        sos(&mut publisher, SITE, &device);
        let r = webhook_for(&hook, "/hook/wang", &device, wait);
        latencies.push(r.at.duration_since(t0));
    }
    latencies.sort();
    let (p50, p99) = (percentile(&latencies, 50), percentile(&latencies, 99));
    eprintln!(
        "notify_channels: SOS publish → webhook received over {SAMPLES} alarms: \
         p50 {p50:.1?}, p99 {p99:.1?}, max {:.1?}; test took {:.1?}",
        latencies[SAMPLES - 1],
        started.elapsed()
    );
    publisher.disconnect().unwrap();
}

/// The first `http://...` URL containing `/ack/` in `text`.
fn ack_link(text: &str) -> String {
    let start = text.find("http://").expect("a link");
    let rest = &text[start..];
    let link: String = rest
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '<' && *c != '"')
        .collect();
    assert!(link.contains("/ack/"), "{link}");
    link
}

#[test]
fn an_email_arrives_over_smtp_and_its_link_acknowledges_the_alarm() {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    const SITE: &str = "notify-mail";
    let started = Instant::now();
    let smtp = Smtp::start().unwrap();
    let extra = format!(
        "[smtp]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nfrom = \"Linli 邻里 <alarms@linli.test>\"\n\n{}{}",
        smtp.port(),
        staff(
            "chen",
            "Chen Jing",
            "caretaker",
            "en",
            "{ email = \"chen@example.cn\" }"
        ),
        sos_devices(1),
    );
    let broker = Broker::start().unwrap();
    let gw = Gateway::launch(&broker.url(), SITE, &extra).unwrap();
    let mut publisher =
        Publisher::connect(PubOptions::new(broker.port(), "notify-mail-pub")).unwrap();
    publisher.wait_connected(Duration::from_secs(10)).unwrap();
    sos(&mut publisher, SITE, "sos-000");

    let mail = smtp
        .wait_messages(1, Duration::from_secs(20))
        .unwrap()
        .remove(0);
    assert_eq!(mail["rcpt_tos"], json!(["chen@example.cn"]));
    assert_eq!(mail["mail_from"], "alarms@linli.test");
    let subject = mail["subject"].as_str().unwrap();
    assert!(subject.starts_with("[CRITICAL] SOS"), "{subject}");
    let key = mail["key"].as_str().unwrap();
    assert!(key.ends_with(":chen:0"), "{key}");
    let text = mail["text"].as_str().expect("a text/plain part");
    let html = mail["html"].as_str().expect("a text/html part");
    assert!(text.contains("Where: building 3 unit 2 room 100"), "{text}");
    let link = ack_link(text);
    assert!(html.contains(&link), "{html}");
    let alarm_id = key.split(':').next().unwrap().to_string();

    let api = Api::new(gw.http_port(), &token("chen"));
    let status = |api: &Api| -> Value { api.json(&format!("/api/v1/alarms/{alarm_id}")).unwrap() };
    // Opening the link (what a chat app's preview does) only shows the button.
    let (code, page) = api.get_url(&link).unwrap();
    assert_eq!(code, 200, "{page}");
    assert!(page.contains("<form method=\"post\">"), "{page}");
    assert!(page.contains("Acknowledge"), "{page}");
    assert_eq!(status(&api)["status"], "open");

    // The button acknowledges as the staff member the link was sent to.
    let (code, page) = api.post_url(&link).unwrap();
    assert_eq!(code, 200, "{page}");
    assert!(
        page.contains("Acknowledged") && page.contains("Chen Jing"),
        "{page}"
    );
    let alarm = status(&api);
    assert_eq!(alarm["status"], "acknowledged", "{alarm}");
    assert_eq!(alarm["acked_by"], "chen");
    assert!(
        alarm["timeline"].as_array().unwrap().iter().any(|e| {
            e["what"] == "acknowledged" && e["detail"].as_str().unwrap().contains("via link")
        }),
        "{alarm}"
    );
    let receipt = &alarm["receipts"][0];
    assert_eq!(receipt["channel"], "email");
    assert_eq!(receipt["result"], "delivered");
    assert!(
        receipt["detail"].as_str().unwrap().contains("SMTP 250"),
        "{receipt}"
    );

    // A used link says so; an altered one is refused.
    let (code, page) = api.post_url(&link).unwrap();
    assert_eq!(code, 409, "{page}");
    assert!(page.contains("You acknowledged this alarm"), "{page}");
    let (code, page) = api.get_url(&link).unwrap();
    assert_eq!(code, 409, "{page}");
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let (code, page) = api.post_url(&forged).unwrap();
    assert_eq!(code, 404, "{page}");
    assert!(page.contains("not valid"), "{page}");
    assert_eq!(status(&api)["acked_by"], "chen");
    eprintln!(
        "notify_channels: e-mail and ack link took {:.1?}",
        started.elapsed()
    );
    publisher.disconnect().unwrap();
}
