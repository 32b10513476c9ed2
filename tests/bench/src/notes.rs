//! What profiling found behind a missed goal. These notes come from profiling sessions (perf,
//! callgrind) written down by hand; a run includes the note of each goal it missed.

use crate::report::Section;

/// (prefix of a goal's name, what dominates).
const NOTES: &[(&str, &str)] = &[
    (
        "SOS → MQTT",
        "the notifier's connection overlaps publishes (a driver task pairs PUBACKs with callers \
         by packet id) and Nagle is off on every MQTT connection, hub and broker \
         (`set_tcp_nodelay`); before those two changes p99 was 6.3 s at 10k msg/s. What is left \
         is the same as for the webhook below plus one more broker hop, with the broker itself \
         busy with 10k msg/s in and out on the same 2 cores.",
    ),
    (
        "SOS → webhook",
        "not the webhook itself (at 1k msg/s p50 is ~4 ms): the SOS waits in the hub's one \
         subscription queue behind the background messages, which the pipeline takes in order \
         and makes durable (apply + fsync) before any alarm it raised is notified (invariant 2). \
         At 10k msg/s on 2 cores shared with the broker and the load generator, p99 moved \
         between 22 and 45 ms across runs of the same build. A separate subscription (or \
         session) for care events would let an SOS overtake telemetry; not built.",
    ),
    (
        "backlog drain",
        "profiled before the block layout: sled's write path and the allocator took most of \
         the CPU (`_int_malloc` 14.8 %, `Vec::clone` of sled node data 7.5 %, `memcmp` 4.5 %, \
         `PageCache::get` 3.7 %), the pipeline's own work ~2 % (`Registry::observe` 1.5 %). \
         Telemetry is now one block per device and ~150 samples, so a drained batch rewrites one \
         block per device instead of inserting one key per sample; each rewrite still reads the \
         block back (a sled get) and copies its leaf node, which is what remains.",
    ),
    (
        "RSS at rest",
        "sled 0.34's node cache. heaptrack on an idle hub over a 1 GB store: 164 MiB of the \
         253 MiB peak are sled nodes deserialised by reads (here the start-up retention pass, \
         which touches every device's oldest block; live ingest from every device touches \
         every device's newest block the same way). A probe reading one block of each of 20,000 \
         devices grows RSS from 18 MiB (after open) to ~275 MiB with `cache_capacity` 16 MiB \
         and the same with 1 MiB: sled sizes its cache by on-disk bytes, and its resident nodes \
         are many times that. Fewer, larger keys (the block layout: 111 → 18 MiB right after \
         open) do not change that floor. What would: keeping telemetry blocks out of sled \
         (append-only files per day with a small index) and sled for the small state.",
    ),
    (
        "bytes on disk",
        "telemetry is stored in per-device blocks (delta varints, a name table per block; 14 B \
         for a two-value sample, 30 B/sample on disk for a 1 GB store written by `fill_store`). \
         What this scenario adds on top is sled's segment slack right after the writes and, \
         with few samples per device, the per-block key and node overhead.",
    ),
    (
        "Linli ceiling / Node-RED",
        "Linli's ceiling here is the broker's: live, Linli stores about what `mosquitto_sub` \
         receives in the same run (scenario 1), and mosquitto_sub itself is only ~5× \
         Node-RED's ceiling on this 2-core box, where mosquitto, the load generator and the \
         consumer share the CPUs. No consumer of this broker can reach 10× here.",
    ),
];

/// The notes of the goals missed in `sections`, as markdown.
pub fn for_missed(sections: &[Section]) -> String {
    let mut out = String::new();
    for goal in sections.iter().flat_map(|s| &s.goals) {
        if goal.met != Some(false) {
            continue;
        }
        let note = NOTES
            .iter()
            .find(|(prefix, _)| goal.name.starts_with(prefix))
            .map_or("not profiled yet.", |(_, note)| note);
        out.push_str(&format!(
            "- **{}** ({}, goal {}): {note}\n",
            goal.name, goal.figure, goal.target
        ));
    }
    out
}
