//! What profiling found behind a missed goal. These notes come from profiling sessions (perf,
//! callgrind) written down by hand; a run includes the note of each goal it missed.

use crate::report::Section;

/// (prefix of a goal's name, what dominates).
const NOTES: &[(&str, &str)] = &[
    (
        "SOS → MQTT",
        "the MQTT channel is one connection behind a mutex that publishes one message at a time \
         and waits for its PUBACK before the next (`gateway/src/notify/mqtt.rs`, shared by the \
         staff notifications and the retained alarm state in `notify/channels.rs` and \
         `notify/deliver.rs`). Every SOS costs two broker round trips in series; with the broker \
         busy with 10k msg/s in and out a round trip is tens of ms, so at 50 SOS/s the queue \
         grows for the whole run (p50 in seconds while the webhook, delivered concurrently, \
         stays far lower). Fix (not done here): a driver task that polls the event loop \
         continuously and resolves each publish on its PUBACK by packet id, so that deliveries \
         overlap up to `[notify] concurrency`.",
    ),
    (
        "SOS → webhook",
        "not the webhook itself (at 1k msg/s p50 is ~5 ms): the SOS waits in the hub's one \
         subscription queue behind the background messages, which the pipeline takes in order, \
         at 10k msg/s on 2 shared cores with the broker and the load generator beside it. The \
         pipeline's CPU goes to the store's write path (see the drain note), so it is the \
         store that sets how much headroom is left above 10k msg/s.",
    ),
    (
        "backlog drain",
        "`perf record -g` on `linli` during the 200,000-message drain (8 s, 3,445 samples): \
         sled's write path and the allocator take most of the CPU — `_int_malloc` 14.8 %, \
         `Vec::clone` of sled node data 7.5 %, `unlink_chunk` 5.4 %, `memcmp` (key \
         comparisons) 4.5 %, `memmove` 4.0 %, `drop_in_place<sled::node::Data>` 4.0 %, \
         `_int_free` 3.7 %, `PageCache::get` 3.7 %, `malloc_consolidate` 3.4 %, \
         `Tree::apply_batch` 1.9 % — while the pipeline's own work is small (`Registry::observe` \
         1.5 %, `Pipeline::classify` 0.7 %). sled copies a leaf node on every update of it, and \
         samples of 1,000 devices land in many different leaves per batch. This is the \
         telemetry layout being redesigned in `gateway/src/store/` (out of this branch's \
         scope); live ingest hides it because there the publisher and broker are the limit.",
    ),
    (
        "RSS at rest",
        "measured, not profiled per component: after a restart on the 490 MB store Linli rests \
         at ~200 MiB with 20,000 devices, and registering the 20,000 devices (each a new device \
         record and sequence window in sled) raised it to ~490 MiB, which is not given back. \
         The gateway's own structures for 20,000 devices are a few MiB; the rest is sled \
         (page table and cached / dirty nodes of a large tree), i.e. the store layout under \
         redesign.",
    ),
    (
        "bytes on disk",
        "sled stores each sample as its own key/value (device id, timestamp, seq, JSON-ish \
         values) with per-item and per-node overhead, plus segment slack before sled's GC \
         rewrites segments; ~350 B for a 2-value sample. A packed per-device block layout \
         (delta-encoded times, columnar values) is what gets under 64 B — the store redesign \
         in progress.",
    ),
    (
        "Linli ceiling / Node-RED",
        "Linli's ceiling here is the broker's: live, Linli stores 0.9–0.98 of what \
         `mosquitto_sub` receives in the same run (scenario 1), and mosquitto_sub itself is only \
         ~5× Node-RED's ceiling on this 2-core box, where mosquitto, the load generator and the \
         consumer share the CPUs. No consumer of this broker can reach 10× here; against the \
         broker's offline drain rate (scenario 3, mosquitto_sub ~10× Node-RED) Linli is held \
         back by the store's write path (see the drain note).",
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
