use super::*;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("linli.toml"))
}

fn keys(text: &str) -> Vec<String> {
    parse(text)
        .unwrap_err()
        .problems
        .into_iter()
        .map(|p| p.key)
        .collect()
}

#[test]
fn a_file_with_only_site_and_mqtt_is_enough() {
    let c =
        parse("[site]\nid = \"sunny-garden\"\n[mqtt]\nurl = \"mqtt://127.0.0.1:1883\"\n").unwrap();
    assert_eq!(c.client_id(), "linli-sunny-garden");
    assert_eq!(
        c.store.telemetry_retention,
        super::super::Dur::secs(30 * 86_400)
    );
    assert_eq!(
        c.store.event_retention,
        super::super::Dur::secs(180 * 86_400)
    );
    assert_eq!(c.http.listen.port(), 8080);
    assert_eq!(c.mqtt.max_payload, 65_536);
}

#[test]
fn every_problem_is_reported_at_once_with_its_key() {
    let text = r#"
[site]
id = "bad site"
[mqtt]
url = "http://x"
keep_alive = "soon"
[store]
cache_mbs = 3
[http]
listen = "not an address"
[[device]]
id = "sos-1"
kind = "Care SOS"
[[device]]
id = "sos-1"
kind = "care.sos_button"
[[device]]
kind = "care.pir"
[extra]
"#;
    let keys = keys(text);
    for want in [
        "mqtt.keep_alive",
        "store.cache_mbs",
        "http.listen",
        "device[2].id",
        "extra",
    ] {
        assert!(keys.iter().any(|k| k == want), "{want} not in {keys:?}");
    }
}

#[test]
fn semantic_problems_name_the_key_and_fix() {
    let e = parse("[site]\nid = \"a b\"\n[mqtt]\nurl = \"http://x\"\n[[device]]\nid = \"d\"\nkind = \"Care SOS\"\n[[device]]\nid = \"d\"\nkind = \"care.pir\"\n").unwrap_err();
    let keys: Vec<_> = e.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["site.id", "mqtt.url", "device[0].kind", "device[1].id"]
    );
    assert!(e.problems.iter().all(|p| !p.fix.is_empty()));
    let text = e.to_string();
    assert!(text.starts_with("linli.toml: 4 problems"), "{text}");
}

#[test]
fn missing_sections_and_syntax_errors_are_explained() {
    assert_eq!(keys(""), ["site", "mqtt"]);
    let e = parse("[site\nid = 1").unwrap_err();
    assert_eq!(e.problems[0].key, "(syntax)");
    assert!(
        e.problems[0].message.contains("line 1"),
        "{}",
        e.problems[0].message
    );
    let e = parse("[site]\n[mqtt]\nurl = \"embedded\"\n").unwrap_err();
    assert_eq!(e.problems[0].key, "site.id");
    assert_eq!(e.problems[0].fix, "add `id`");
}
