use super::*;
use crate::config::Dur;

fn entry(text: &str) -> ChannelConfig {
    toml::from_str(text).unwrap()
}

#[test]
fn each_entry_names_one_channel() {
    assert_eq!(
        entry("webhook = \"http://127.0.0.1:9/hook\"\nsecret = \"s\"").channel(),
        Ok(Channel::Webhook {
            url: "http://127.0.0.1:9/hook".into(),
            secret: Some("s".into())
        })
    );
    assert_eq!(entry("mqtt = true").channel(), Ok(Channel::Mqtt));
    assert!(entry("mqtt = false").channel().is_err());
    assert!(entry("").channel().is_err());
    assert!(entry("mqtt = true\nconsole = true").channel().is_err());
    assert!(
        entry("email = \"a@b.cn\"\nsecret = \"x\"")
            .channel()
            .is_err()
    );
    assert!(entry("email = \"nobody\"").channel().is_err());
    assert!(entry("sms = \"+86 138\"").channel().is_err());
    assert!(entry("wecom = \"ftp://x\"").channel().is_err());
    assert!(toml::from_str::<ChannelConfig>("telegram = \"x\"").is_err());
}

fn problems(text: &str) -> Vec<(String, String)> {
    let base = "[site]\nid = \"s\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n";
    match super::super::Config::parse(&format!("{base}{text}"), std::path::Path::new("t.toml")) {
        Ok(_) => Vec::new(),
        Err(e) => e.problems.into_iter().map(|p| (p.key, p.fix)).collect(),
    }
}

#[test]
fn channels_and_sections_load_with_their_defaults() {
    let text = "[smtp]\nhost = \"mail.example.cn\"\nfrom = \"Linli 邻里 <alarms@example.cn>\"\n\
                [[staff]]\nid = \"wang\"\nroles = [\"caretaker\"]\ntoken = \"0123456789abcdef\"\n\
                notify = [{ email = \"wang@example.cn\" }, { mqtt = true }]\n\
                [[staff]]\nid = \"li\"\nroles = [\"caretaker\"]\ntoken = \"0123456789abcdeg\"\n";
    let base = "[site]\nid = \"s\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n";
    let c = super::super::Config::parse(&format!("{base}{text}"), std::path::Path::new("t.toml"))
        .unwrap();
    assert_eq!(c.staff[0].notify.len(), 2);
    assert_eq!(c.staff[1].notify, vec![ChannelConfig::mqtt()]);
    let smtp = c.smtp.clone().unwrap();
    assert_eq!((smtp.tls, smtp.port()), (SmtpTls::Starttls, 587));
    assert_eq!(c.notify.max_age, Dur::secs(120));
    assert_eq!(c.notify.concurrency, 4);
    assert!(c.sms.is_none());
    assert_eq!(c.public_url(), "http://127.0.0.1:8080");
}

#[test]
fn every_channel_problem_is_named_with_a_fix() {
    let found = problems(
        "[http]\npublic_url = \"linli.example.cn\"\nlink_secret = \"short\"\n\
         [notify]\nconcurrency = 0\nmax_age = \"500ms\"\n\
         [sms]\nurl = \"http://127.0.0.1:9/sms\"\nbody = \"{text}\"\n\
         [[staff]]\nid = \"wang\"\nroles = [\"caretaker\"]\ntoken = \"0123456789abcdef\"\n\
         notify = [{ email = \"wang@example.cn\" }, { webhook = \"http://x/h\", wecom = \"http://y\" }, { sms = \"+8613800000000\", secret = \"s\" }]\n\
         [[staff]]\nid = \"li\"\nroles = [\"caretaker\"]\ntoken = \"0123456789abcdeg\"\n\
         notify = [{ pager = \"1\" }]\n",
    );
    let keys: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
    for key in [
        "staff[0].notify[0]",
        "staff[0].notify[1]",
        "staff[0].notify[2]",
        "notify.concurrency",
        "notify.max_age",
        "sms.body",
        "http.public_url",
        "http.link_secret",
    ] {
        assert!(keys.contains(&key), "{key} not in {found:?}");
    }
    // `pager` is an unknown key of the entry: named with its place.
    assert!(keys.contains(&"staff[1].notify[0].pager"), "{found:?}");
    assert!(found.iter().all(|(_, fix)| !fix.is_empty()));
}

#[test]
fn targets_hide_keys_and_mask_people() {
    let wecom = Channel::Wecom {
        url: "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET".into(),
    };
    assert_eq!(
        wecom.target(),
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
    );
    let sms = Channel::Sms {
        to: "+8613812345678".into(),
    };
    assert_eq!(sms.target(), "+86*******5678");
    let mail = Channel::Email {
        to: "wang@example.cn".into(),
    };
    assert_eq!(mail.target(), "w***@example.cn");
}
