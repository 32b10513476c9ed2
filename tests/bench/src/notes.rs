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
         between 22 and 45 ms across runs of the same build. Ruled out: the SOS's own batch. An \
         urgent-first write (the SOS made durable and notified before the rest of its batch) \
         measured A/B in three interleaved runs gave webhook p99 29.9 / 23.4 / 36.6 ms without \
         and 23.3 / 28.5 / 38.2 ms with, so it was not kept. Next to look at: the wait in \
         front of the pipeline (rumqttc's event loop and the hand-off channel) and the fsync's \
         tail on this disk.",
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
        "sled 0.34's page cache, the allocator, and the registry. Registering the 20,000 \
         devices peaks at 138–208 MiB (VmHWM, runs of 2026-11-28); the hub's once-a-minute \
         `malloc_trim` returns some of it. glibc's arenas were capped at two (one per core; sixteen by default): in \
         one A/B pair on the same store 147 → 112 MiB at rest (one arena: 104), for a drain \
         ~6 % slower (two runs each: 45.1/45.4k msg/s with sixteen, 41.3/43.8k with two, \
         39.9/38.9k with one). A heap profile at rest (heaptrack, killed at rest so that what \
         is live shows as leaked) held 93 MiB live: 10.9 MiB of it a BTreeMap of last values \
         per device (now a sorted vector), ~12 MiB pages sled's segment cleaner rewrote at \
         rest, ~9 MiB of pages read back, 7 MiB sled's page table, 6.4 MiB device records. \
         sled's LRU has 256 shards and a shard settles its accounting only once 64 reads have \
         queued for it, so up to ~16,000 pages read once stay resident whatever \
         `cache_capacity` says. After a restart on the same store it is ~70–80 MiB.",
    ),
    (
        "RSS idle with",
        "with 20,000 devices: sled's page table (~200 B for each of ~56,000 pages, ~11 MiB), \
         the registry (~10 MiB), the binary's text (~6 MiB) and glibc's arenas. A retention pass \
         that deletes a day pages that day in, and sled relocates surviving pages for about a \
         minute after; the hub returns freed heap to the system after each pass and once a \
         minute (`malloc_trim`), which took one such run from 71.8 to 59.8 MiB.",
    ),
    (
        "RSS idle, the same store with",
        "not understood yet. sled's page table grows with the number of keys (a dozen entries \
         or so per page, ~200 B of table per page, resident from the start): ~560,000 daily \
         tests as keys of their own added ~43,000 pages and +8.7 MiB of table in a fresh start \
         (two heap profiles at rest). Events are kept in blocks per device and day like \
         telemetry, but a daily test is one event per device-day, so here every block holds one \
         event and the key count is the same. Runs of 2026-11-28: 110.1 MiB with glibc's \
         arenas capped at two (twice), 96.6 with sixteen (once); deleting a day of telemetry \
         alone costs ~5 MiB, so deleting the 40,000 event blocks of two days costs far more \
         than its share. To profile next.",
    ),
    (
        "bytes on disk",
        "this scenario's devices are sparse (72 samples in 30 days, 2.4 a day), and telemetry \
         blocks hold one device and one UTC day (so that retention drops whole days without \
         reading other data, which is what keeps an idle hub over a 1 GB store under 64 MiB): \
         here every block holds 2-3 samples, and each block costs ~300 B on disk (its key, its \
         header and name table, sled's per-entry and segment overhead) against 14 B per sample. \
         With the 30-day blocks of the previous layout this scenario measured 57 B/sample. A \
         device sampling every 25 minutes (56 a day) stores 27.5 B/sample (scenario 6).",
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
