use super::codec::{DAY_MS, day};
use super::*;
use linli_protocols::Value;

pub(super) fn open(dir: &std::path::Path, rejected_max: usize) -> Store {
    Store::open(&StoreConfig {
        path: dir.to_path_buf(),
        rejected_max,
        ..StoreConfig::default()
    })
    .unwrap()
}

pub(super) fn values(t: f64) -> Values {
    [("temperature_c".to_string(), Value::Number(t))].into()
}

pub(super) fn all() -> TimeRange {
    TimeRange {
        from: 0,
        to: u64::MAX,
        after: None,
    }
}

fn device(id: &str) -> DeviceRecord {
    DeviceRecord {
        id: id.into(),
        kind: None,
        model: None,
        fw: None,
        location: None,
        source: DeviceSource::FirstMessage,
        heartbeat_s: 60,
        state: DeviceState::Online,
        state_reason: StateReason::Message,
        state_since: 1,
        first_seen: 1,
        last_seen: Some(1),
        battery_pct: None,
        rssi: None,
        last_values: Default::default(),
        last_event: None,
        messages: 0,
        duplicates: 0,
        seq_gaps: 0,
    }
}

#[test]
fn telemetry_pages_in_time_order_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), 10);
        let mut set = WriteSet::default();
        set.device(&device("t-1"));
        for i in (0..25u64).rev() {
            set.sample(
                "t-1",
                1_000 + i,
                Some(i),
                2_000 + i,
                values(20.0 + i as f64 / 10.0),
            );
        }
        set.sample("t-10", 1_005, Some(1), 1_005, values(1.0));
        assert_eq!(set.len(), 26);
        store.apply(set).unwrap();
        store.flush_sync().unwrap();
    }
    let store = open(dir.path(), 10);
    let mut got = Vec::new();
    let mut range = all();
    loop {
        let page = store.telemetry("t-1", range, 10).unwrap();
        got.extend(page.items);
        let Some(next) = page.next else { break };
        range.after = TimeRange::parse_cursor(&next);
    }
    assert_eq!(got.len(), 25, "t-10 must not leak into t-1");
    assert!(got.windows(2).all(|w| w[0].ts < w[1].ts));
    assert_eq!(
        got[3],
        Sample {
            ts: 1_003,
            seq: Some(3),
            recv: 2_003,
            values: values(20.3)
        }
    );
    let window = store
        .telemetry(
            "t-1",
            TimeRange {
                from: 1_010,
                to: 1_012,
                after: None,
            },
            100,
        )
        .unwrap();
    assert_eq!(
        window.items.iter().map(|s| s.ts).collect::<Vec<_>>(),
        [1_010, 1_011, 1_012]
    );
}

#[test]
fn samples_without_seq_at_the_same_ms_are_all_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 10);
    let mut set = WriteSet::default();
    for i in 0..3 {
        set.sample("d", 5, None, 5, values(f64::from(i)));
    }
    store.apply(set).unwrap();
    let page = store.telemetry("d", all(), 10).unwrap();
    assert_eq!(page.items.len(), 3);
    assert!(page.items.iter().all(|s| s.seq.is_none()));
}

#[test]
fn rejected_list_is_bounded_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 5);
    for i in 0..12 {
        let mut set = WriteSet::default();
        set.reject(RejectedRecord {
            id: 0,
            at: i,
            topic: format!("linli/s/d/{i}"),
            reason: "malformed_json".into(),
            detail: String::new(),
            size: 1,
            payload: "x".into(),
            truncated: false,
        });
        store.apply(set).unwrap();
    }
    let page = store.rejected(0, 100).unwrap();
    assert_eq!(
        page.items.iter().map(|r| r.at).collect::<Vec<_>>(),
        [7, 8, 9, 10, 11]
    );
    let first = store.rejected(0, 2).unwrap();
    assert_eq!(first.items.len(), 2);
    let rest = store
        .rejected(first.next.unwrap().parse().unwrap(), 100)
        .unwrap();
    assert_eq!(rest.items.len(), 3);
}

#[test]
fn retention_deletes_only_old_data_per_class() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 5);
    let mut set = WriteSet::default();
    set.device(&device("d"));
    for ts in [100, DAY_MS + 200, 2 * DAY_MS + 300] {
        set.sample("d", ts, Some(ts), ts, values(1.0));
        set.event(
            "d",
            EventRecord {
                ts,
                seq: Some(ts),
                recv: ts,
                kind: "sos".into(),
                data: Values::new(),
            },
        );
    }
    store.apply(set).unwrap();
    // Both go a whole day at a time: day 1 has not ended before the cut, so what it holds at
    // DAY_MS + 200 stays although it is older.
    let done = store.retain(DAY_MS + 250, DAY_MS + 250).unwrap();
    assert_eq!((done.telemetry, done.events), (1, 1));
    let kept = store.telemetry("d", all(), 10).unwrap().items;
    assert_eq!(
        kept.iter().map(|s| s.ts).collect::<Vec<_>>(),
        [DAY_MS + 200, 2 * DAY_MS + 300]
    );
    let kept = store.events("d", all(), 10).unwrap().items;
    assert_eq!(
        kept.iter().map(|e| e.ts).collect::<Vec<_>>(),
        [DAY_MS + 200, 2 * DAY_MS + 300]
    );
}

#[test]
fn a_store_of_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let db = sled::open(dir.path()).unwrap();
        db.open_tree("meta")
            .unwrap()
            .insert("schema", &99u64.to_be_bytes())
            .unwrap();
        db.flush().unwrap();
    }
    let err = Store::open(&StoreConfig {
        path: dir.path().to_path_buf(),
        ..StoreConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("schema 99"), "{err}");
}

/// Every `(ts, seq)` of a paged read, following the cursor to the end.
fn page_all<T>(
    mut range: TimeRange,
    read: impl Fn(TimeRange) -> Page<T>,
    key: impl Fn(&T) -> (u64, u64),
) -> Vec<(u64, u64)> {
    let mut got = Vec::new();
    for _ in 0..10_000 {
        let page = read(range);
        got.extend(page.items.iter().map(&key));
        let Some(next) = page.next else { return got };
        range.after = TimeRange::parse_cursor(&next);
    }
    panic!("paging did not end");
}

/// Telemetry samples and events share the block layout, and one property: rows in any order,
/// over several batches, read back in `(ts, seq)` order with nothing lost or repeated, time
/// windows exact, and retention deletes exactly the days that ended before its cut, for a device
/// and a neighbour whose id extends its own.
mod blocks {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone, Copy)]
    enum Kind {
        Telemetry,
        Events,
    }

    impl Kind {
        fn write(self, set: &mut WriteSet, id: &str, ts: u64, seq: u64) {
            match self {
                Kind::Telemetry => set.sample(id, ts, Some(seq), ts, values(seq as f64)),
                Kind::Events => set.event(id, event(ts, seq)),
            }
        }

        fn page_all(
            self,
            store: &Store,
            id: &str,
            range: TimeRange,
            limit: usize,
        ) -> Vec<(u64, u64)> {
            match self {
                Kind::Telemetry => super::page_all(
                    range,
                    |r| store.telemetry(id, r, limit).unwrap(),
                    |s| (s.ts, s.seq.unwrap()),
                ),
                Kind::Events => super::page_all(
                    range,
                    |r| store.events(id, r, limit).unwrap(),
                    |e| (e.ts, e.seq.unwrap()),
                ),
            }
        }

        /// Runs retention with `cut` for this kind (the other's cut at 0); what it deleted.
        fn retain(self, store: &Store, cut: u64) -> u64 {
            match self {
                Kind::Telemetry => store.retain(cut, 0).unwrap().telemetry,
                Kind::Events => store.retain(0, cut).unwrap().events,
            }
        }
    }

    fn event(ts: u64, seq: u64) -> EventRecord {
        EventRecord {
            ts,
            seq: Some(seq),
            recv: ts,
            kind: "door_forced".into(),
            data: [("door".to_string(), Value::Text("north".into()))].into(),
        }
    }

    fn check(
        kind: Kind,
        times: &[u64],
        batch: usize,
        limit: usize,
        (from, len): (u64, u64),
    ) -> std::result::Result<(), TestCaseError> {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 10);
        let mut want: Vec<(u64, u64)> = times
            .iter()
            .enumerate()
            .map(|(i, &t)| (t, i as u64))
            .collect();
        for chunk in want.chunks(batch) {
            let mut set = WriteSet::default();
            for &(ts, seq) in chunk {
                kind.write(&mut set, "d", ts, seq);
                kind.write(&mut set, "dd", ts + 1, seq);
            }
            store.apply(set).unwrap();
        }
        want.sort();
        prop_assert_eq!(kind.page_all(&store, "d", all(), limit), want.clone());
        if let Kind::Events = kind {
            // Type and data come back as written.
            let first = store.events("d", all(), 1).unwrap().items;
            prop_assert_eq!(&first[0].kind, "door_forced");
            prop_assert_eq!(
                first[0].data.get("door"),
                Some(&Value::Text("north".into()))
            );
        }

        let range = TimeRange {
            from,
            to: from + len,
            after: None,
        };
        let inside: Vec<_> = want
            .iter()
            .copied()
            .filter(|&(t, _)| t >= from && t <= from + len)
            .collect();
        prop_assert_eq!(kind.page_all(&store, "d", range, limit), inside);

        let cut = from;
        let done = kind.retain(&store, cut);
        let kept: Vec<_> = want
            .iter()
            .copied()
            .filter(|&(t, _)| day(t) >= day(cut))
            .collect();
        let shifted: Vec<_> = want
            .iter()
            .map(|&(t, s)| (t + 1, s))
            .filter(|&(t, _)| day(t) >= day(cut))
            .collect();
        prop_assert_eq!(done as usize, 2 * want.len() - kept.len() - shifted.len());
        prop_assert_eq!(kind.page_all(&store, "d", all(), limit), kept);
        prop_assert_eq!(kind.page_all(&store, "dd", all(), limit), shifted);
        Ok(())
    }

    fn page_all(store: &Store, id: &str, range: TimeRange, limit: usize) -> Vec<(u64, u64)> {
        Kind::Telemetry.page_all(store, id, range, limit)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn samples_in_any_arrival_order_read_back_sorted_and_whole(
            times in proptest::collection::vec(0u64..90 * DAY_MS, 1..600),
            batch in 1usize..200,
            limit in 1usize..300,
            window in (0u64..90 * DAY_MS, 0u64..40 * DAY_MS),
        ) {
            check(Kind::Telemetry, &times, batch, limit, window)?;
        }

        #[test]
        fn events_in_any_order_read_back_sorted_with_their_type_and_data(
            times in proptest::collection::vec(0u64..90 * DAY_MS, 1..300),
            batch in 1usize..100,
            limit in 1usize..50,
            window in (0u64..90 * DAY_MS, 0u64..40 * DAY_MS),
        ) {
            check(Kind::Events, &times, batch, limit, window)?;
        }
    }

    #[test]
    fn a_minute_sampler_fills_blocks_of_over_a_hundred_samples() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path(), 10);
        for i in 0..1_000u64 {
            let mut set = WriteSet::default();
            set.sample(
                "d",
                i * 60_000,
                Some(i),
                i * 60_000 + 30,
                values(20.0 + (i % 50) as f64 / 10.0),
            );
            store.apply(set).unwrap();
        }
        let keys = store.series.scan_prefix([codec::TELEMETRY]).count();
        assert!((5..=10).contains(&keys), "{keys} blocks for 1000 samples");
        assert_eq!(page_all(&store, "d", all(), 1_000).len(), 1_000);
    }
}

fn alarm(id: u64, raised_at: u64, resolved_at: Option<u64>) -> crate::alarms::Alarm {
    serde_json::from_value(serde_json::json!({
        "id": id.to_string(), "rule": "sos", "subject": {"device": "d"}, "device_id": "d",
        "household": null, "class": "care", "place": {}, "severity": "critical",
        "status": if resolved_at.is_some() { "resolved" } else { "open" },
        "condition": "active", "resolution": "person", "raised_at": raised_at,
        "last_at": raised_at, "count": 1, "detail": "", "acked_by": null, "acked_at": null,
        "resolved_by": null, "resolved_at": resolved_at, "note": null,
        "escalation": {"round": 0, "round_at": raised_at, "step": 0, "repeats": 0, "next_at": null},
        "timeline": []
    }))
    .unwrap()
}

fn audit(at: u64) -> crate::alarms::AuditEntry {
    serde_json::from_value(serde_json::json!({
        "id": 0, "at": at, "actor": "wang", "action": "acknowledged", "alarm_id": "1", "detail": ""
    }))
    .unwrap()
}

fn receipt(alarm_id: &str) -> Receipt {
    Receipt {
        at: 1,
        alarm_id: alarm_id.into(),
        staff_id: "wang".into(),
        channel: "webhook".into(),
        index: 0,
        target: "http://127.0.0.1/".into(),
        key: "k".into(),
        attempt: 1,
        result: "delivered".into(),
        detail: String::new(),
        latency_ms: 1,
    }
}

#[test]
fn retention_deletes_old_resolved_alarms_with_receipts_and_old_audit_but_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), 5);
    let mut set = WriteSet::default();
    // 1: resolved long ago; 2: still open though old; 3: resolved after the cut; 4: newest, old.
    set.alarm(&alarm(1, 10, Some(20)));
    set.alarm(&alarm(2, 11, None));
    set.alarm(&alarm(3, 12, Some(500)));
    set.alarm(&alarm(4, 13, Some(30)));
    for at in [10, 20, 30, 600, 40] {
        set.audit(audit(at));
    }
    store.apply(set).unwrap();
    store
        .settle(Settle {
            receipts: vec![receipt("1"), receipt("1"), receipt("3")],
            ..Settle::default()
        })
        .unwrap();
    let done = store.retain(0, 100).unwrap();
    assert_eq!((done.alarms, done.audit), (1, 3));
    assert!(store.alarm("1").unwrap().is_none());
    assert!(store.receipts("1").unwrap().is_empty());
    for kept in ["2", "3", "4"] {
        assert!(store.alarm(kept).unwrap().is_some(), "alarm {kept}");
    }
    assert_eq!(store.receipts("3").unwrap().len(), 1);
    assert_eq!(store.next_alarm_id().unwrap(), 5, "ids are never reused");
}

#[test]
fn last_values_keep_the_newest_of_each_reading_in_name_order_and_read_back_as_an_object() {
    let mut last = LastValues::default();
    last.set("temp_c", &Value::Number(21.5));
    last.set("battery_pct", &Value::Number(80.0));
    last.set("door", &Value::Text("open".into()));
    last.set("temp_c", &Value::Number(22.0));
    let names: Vec<&str> = last.iter().map(|(k, _)| k).collect();
    assert_eq!(names, ["battery_pct", "door", "temp_c"]);
    assert_eq!(last.get("temp_c"), Some(&Value::Number(22.0)));
    assert_eq!(last.get("rssi"), None);

    let json = serde_json::to_string(&last).unwrap();
    assert_eq!(json, r#"{"battery_pct":80.0,"door":"open","temp_c":22.0}"#);
    // A stored object in any order (or with a repeated name) reads back sorted, the last one winning.
    let back: LastValues =
        serde_json::from_str(r#"{"temp_c":1,"door":true,"temp_c":22.0}"#).unwrap();
    assert_eq!(
        back.iter().collect::<Vec<_>>(),
        [
            ("door", &Value::Bool(true)),
            ("temp_c", &Value::Number(22.0))
        ]
    );
}
