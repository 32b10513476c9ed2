//! What survives a restart: the next sequence number and the water register.
//!
//! The hub drops a `(device, seq)` it has seen, so a node must never reuse a sequence number.
//! The file holds a *lease*: a number above every one handed out so far. It is rewritten when
//! the lease runs out (every [`SEQ_LEASE`] messages) and with the exact next number on a clean
//! shutdown, so a crash costs at most a gap of [`SEQ_LEASE`] and never a duplicate. The water
//! register is saved with it at most every [`WATER_SAVE_MS`] while it changes; a crash may lose
//! that much metered water, never add any.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use tracing::warn;

/// Sequence numbers reserved per write of the state file.
pub const SEQ_LEASE: u64 = 1_000;
/// Minimum time between two saves for the water register alone.
pub const WATER_SAVE_MS: u64 = 60_000;

/// The file's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Persisted {
    /// No sequence number below this one has been or will be used.
    pub next_seq: u64,
    /// The water register in millilitres, when a meter is attached.
    #[serde(default)]
    pub water_ml: Option<u64>,
}

/// Reads `path`; `None` when it does not exist yet.
pub fn load(path: &Path) -> io::Result<Option<Persisted>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.message().to_string()))
}

/// Writes `state` to `path` atomically (a temporary file, synced, then renamed over it).
pub fn save(path: &Path, state: &Persisted) -> io::Result<()> {
    let mut text = format!("next_seq = {}\n", state.next_seq);
    if let Some(ml) = state.water_ml {
        text.push_str(&format!("water_ml = {ml}\n"));
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Keeps the state file up to date while the node runs.
#[derive(Debug)]
pub struct StateKeeper {
    path: PathBuf,
    leased_until: u64,
    saved_water: Option<u64>,
    last_save_ms: u64,
    failing: bool,
}

impl StateKeeper {
    /// Takes the first lease from `next_seq`; fails when the file cannot be written.
    pub fn start(path: PathBuf, next_seq: u64, water_ml: Option<u64>) -> io::Result<Self> {
        let leased_until = next_seq.saturating_add(SEQ_LEASE);
        save(
            &path,
            &Persisted {
                next_seq: leased_until,
                water_ml,
            },
        )?;
        Ok(StateKeeper {
            path,
            leased_until,
            saved_water: water_ml,
            last_save_ms: 0,
            failing: false,
        })
    }

    /// Renews the lease before it runs out, and saves a changed water register now and then.
    pub fn keep(&mut self, now_ms: u64, next_seq: u64, water_ml: Option<u64>) {
        let lease_low = next_seq >= self.leased_until;
        let water_due = water_ml != self.saved_water
            && now_ms.saturating_sub(self.last_save_ms) >= WATER_SAVE_MS;
        if !(lease_low || water_due) {
            return;
        }
        let leased_until = if lease_low {
            next_seq.saturating_add(SEQ_LEASE)
        } else {
            self.leased_until
        };
        let state = Persisted {
            next_seq: leased_until,
            water_ml,
        };
        self.last_save_ms = now_ms;
        match save(&self.path, &state) {
            Ok(()) => {
                self.leased_until = leased_until;
                self.saved_water = water_ml;
                self.failing = false;
            }
            Err(e) => {
                if !std::mem::replace(&mut self.failing, true) {
                    warn!(path = %self.path.display(), error = %e, "cannot save the state file");
                }
            }
        }
    }

    /// Saves the exact next sequence number on a clean shutdown.
    pub fn finish(&mut self, next_seq: u64, water_ml: Option<u64>) -> io::Result<()> {
        save(&self.path, &Persisted { next_seq, water_ml })
    }

    /// The sequence numbers handed out must stay below this.
    pub const fn leased_until(&self) -> u64 {
        self.leased_until
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_taken_renewed_and_settled_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.state");
        assert_eq!(load(&path).unwrap(), None);
        let mut k = StateKeeper::start(path.clone(), 500, Some(7_000)).unwrap();
        let read = || load(&path).unwrap().unwrap();
        assert_eq!(
            read(),
            Persisted {
                next_seq: 1_500,
                water_ml: Some(7_000)
            }
        );
        k.keep(10, 1_499, Some(7_000));
        assert_eq!(read().next_seq, 1_500, "lease still good");
        k.keep(20, 1_500, Some(7_000));
        assert_eq!(read().next_seq, 2_500, "renewed when it ran out");
        k.keep(30, 1_600, Some(8_000));
        assert_eq!(
            read().water_ml,
            Some(7_000),
            "water is saved at most once a minute"
        );
        k.keep(60_020, 1_600, Some(8_000));
        assert_eq!(
            read(),
            Persisted {
                next_seq: 2_500,
                water_ml: Some(8_000)
            }
        );
        k.finish(1_601, Some(8_000)).unwrap();
        assert_eq!(
            read(),
            Persisted {
                next_seq: 1_601,
                water_ml: Some(8_000)
            }
        );
        assert_eq!(k.leased_until(), 2_500);
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_restart_from_zero() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("node.state");
        std::fs::write(&path, "next_seq = \"many\"\n").unwrap();
        assert_eq!(load(&path).unwrap_err().kind(), io::ErrorKind::InvalidData);
    }
}
