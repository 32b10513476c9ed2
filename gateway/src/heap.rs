//! Giving freed heap memory back to the system.
//!
//! glibc keeps what a thread frees in that thread's arena for reuse and returns it to the system
//! only from the top of the heap. A retention pass pages a day of telemetry in and frees it on a
//! blocking thread, and sled relocates pages for a minute after; an idle hub over a 1 GB store
//! then held ~12 MiB it no longer used (71.8 MiB resident, 59.8 MiB after `malloc_trim`).
//!
//! glibc also gives threads arenas of their own, up to 8 per core: sixteen here, each keeping
//! its own free pages between bursts. With at most [`ARENAS`] the same 20,000-device
//! registration rested at 112 MiB instead of 147 (`tests/bench`, scenario 4, shows the run).

/// Most malloc arenas: one per core of the 2-core boxes the hub runs on.
pub const ARENAS: i32 = 2;

/// Caps glibc's malloc arenas at [`ARENAS`], unless the operator set `MALLOC_ARENA_MAX` (glibc
/// reads it at start and it wins). Call before any thread starts; a no-op elsewhere.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn limit_arenas() {
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    // SAFETY: `mallopt` takes no pointer and only sets a glibc tunable under its own lock.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
    }
}

/// Caps glibc's malloc arenas; a no-op elsewhere.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn limit_arenas() {}

/// Returns free heap pages to the system (glibc's `malloc_trim`); a no-op elsewhere. Walks the
/// free lists of every arena: about a millisecond for a heap of tens of MiB.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim() {
    // SAFETY: `malloc_trim` takes no pointer and touches only glibc's own free lists, under each
    // arena's lock; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns free heap pages to the system (glibc's `malloc_trim`); a no-op elsewhere.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() {}
