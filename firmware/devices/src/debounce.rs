//! A pure debouncer: a level counts only once the raw input has held it for a settle time.

/// Debounces one binary input. Feed it raw samples with the time; it reports changes of the
/// settled level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Debouncer {
    settle_ms: u32,
    stable: Option<bool>,
    candidate: Option<bool>,
    since_ms: u64,
}

impl Debouncer {
    /// A debouncer whose settled level is unknown until the input first settles; that first
    /// level is taken silently (a door found open at start-up is not a door opening).
    pub const fn new(settle_ms: u32) -> Self {
        Debouncer {
            settle_ms,
            stable: None,
            candidate: None,
            since_ms: 0,
        }
    }

    /// A debouncer that starts from a known settled level, so a different first level is a
    /// change (a button found pressed at start-up is a press).
    pub const fn with_level(settle_ms: u32, level: bool) -> Self {
        Debouncer {
            settle_ms,
            stable: Some(level),
            candidate: Some(level),
            since_ms: 0,
        }
    }

    /// Feeds the raw level sampled at `now_ms`; returns the new settled level when it changed.
    pub fn update(&mut self, raw: bool, now_ms: u64) -> Option<bool> {
        if self.candidate != Some(raw) {
            self.candidate = Some(raw);
            self.since_ms = now_ms;
        }
        if self.stable == Some(raw) || now_ms.saturating_sub(self.since_ms) < self.settle_ms.into()
        {
            return None;
        }
        let first = self.stable.is_none();
        self.stable = Some(raw);
        (!first).then_some(raw)
    }

    /// The settled level, once known.
    pub const fn level(&self) -> Option<bool> {
        self.stable
    }

    /// When the raw input last changed: the start of the current settled level.
    pub const fn since_ms(&self) -> u64 {
        self.since_ms
    }
}

#[cfg(test)]
mod tests {
    use super::Debouncer;

    #[test]
    fn a_level_counts_after_the_settle_time_and_bounces_do_not() {
        let mut d = Debouncer::with_level(30, false);
        // Contact bounce: on, off, on within the settle time.
        assert_eq!(d.update(true, 0), None);
        assert_eq!(d.update(false, 10), None);
        assert_eq!(d.update(true, 20), None);
        assert_eq!(d.update(true, 40), None, "only 20 ms since the last bounce");
        assert_eq!(d.update(true, 50), Some(true));
        assert_eq!(d.since_ms(), 20);
        assert_eq!(d.update(true, 60), None, "reported once");
        assert_eq!(d.update(false, 70), None);
        assert_eq!(d.update(false, 100), Some(false));
        assert_eq!(d.level(), Some(false));
    }

    #[test]
    fn an_unknown_first_level_settles_silently() {
        let mut d = Debouncer::new(20);
        assert_eq!(d.level(), None);
        assert_eq!(d.update(true, 0), None);
        assert_eq!(d.update(true, 20), None);
        assert_eq!(d.level(), Some(true));
        assert_eq!(d.update(false, 30), None);
        assert_eq!(d.update(false, 50), Some(false));
    }

    #[test]
    fn zero_settle_time_passes_levels_through() {
        let mut d = Debouncer::with_level(0, false);
        assert_eq!(d.update(true, 5), Some(true));
        assert_eq!(d.update(false, 6), Some(false));
    }
}
