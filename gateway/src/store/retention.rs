//! Deleting data past its retention, per data class (PIPL: keep only as long as necessary).

use super::{Result, Store, codec, io};

/// What one retention pass deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retained {
    /// Telemetry samples deleted.
    pub telemetry: u64,
    /// Events deleted.
    pub events: u64,
}

/// Deletions per batch, so a pass never builds an unbounded batch.
const CHUNK: usize = 10_000;

impl Store {
    /// Deletes telemetry stamped before `telemetry_cut` and events before `event_cut` (ms).
    pub fn retain(&self, telemetry_cut: u64, event_cut: u64) -> Result<Retained> {
        let mut done = Retained::default();
        for id in self.devices.iter().keys() {
            let id = id.map_err(io("read devices"))?;
            let Ok(id) = std::str::from_utf8(&id) else {
                continue;
            };
            done.telemetry += self.trim_telemetry(id, telemetry_cut)?;
            done.events += self.delete_before(codec::EVENT, id, event_cut)?;
        }
        Ok(done)
    }

    fn delete_before(&self, prefix: u8, id: &str, cut: u64) -> Result<u64> {
        let (start, end) = (
            codec::series_key(prefix, id, 0, 0),
            codec::series_key(prefix, id, cut, 0),
        );
        let mut deleted = 0;
        loop {
            let mut batch = sled::Batch::default();
            let mut n = 0;
            for key in self
                .series
                .range(start.clone()..end.clone())
                .keys()
                .take(CHUNK)
            {
                batch.remove(key.map_err(io("retention scan"))?);
                n += 1;
            }
            if n == 0 {
                return Ok(deleted);
            }
            self.series
                .apply_batch(batch)
                .map_err(io("retention delete"))?;
            deleted += n;
        }
    }
}
