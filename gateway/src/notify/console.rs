//! The console's live stream as a channel: a notification reaches the person's open consoles
//! (`GET /api/v1/alarms/stream` with their token), and counts as delivered only when at least one
//! is open; otherwise it fails, and the person's next channel takes over.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Notifications buffered for slow consoles (a lagging one resyncs).
const BUFFER: usize = 256;

/// A notification for one person's consoles.
#[derive(Debug, Clone)]
pub struct ConsoleMessage {
    /// For whom.
    pub staff_id: String,
    /// The JSON the console shows.
    pub json: Arc<String>,
}

/// The hub between the notifier and the open consoles; cheap to clone.
#[derive(Debug, Clone)]
pub struct Console {
    tx: broadcast::Sender<ConsoleMessage>,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Default for Console {
    fn default() -> Self {
        Console {
            tx: broadcast::channel(BUFFER).0,
            open: Arc::default(),
        }
    }
}

/// An open console; dropping it closes it.
#[derive(Debug)]
pub struct Watch {
    /// Notifications (for everyone: filter by `staff_id`).
    pub rx: broadcast::Receiver<ConsoleMessage>,
    staff_id: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = open.get_mut(&self.staff_id) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.staff_id);
            }
        }
    }
}

impl Console {
    /// Opens a console for `staff_id`.
    pub fn watch(&self, staff_id: &str) -> Watch {
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        *open.entry(staff_id.to_string()).or_default() += 1;
        Watch {
            rx: self.tx.subscribe(),
            staff_id: staff_id.to_string(),
            open: self.open.clone(),
        }
    }

    /// Sends `json` to `staff_id`'s open consoles; returns how many there are.
    pub fn publish(&self, staff_id: &str, json: String) -> usize {
        let n = self
            .open
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(staff_id)
            .copied()
            .unwrap_or(0);
        if n > 0 {
            let _ = self.tx.send(ConsoleMessage {
                staff_id: staff_id.to_string(),
                json: Arc::new(json),
            });
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delivered_only_while_a_console_of_that_person_is_open() {
        let console = Console::default();
        assert_eq!(console.publish("wang", "{}".into()), 0);
        let mut watch = console.watch("wang");
        let other = console.watch("zhao");
        assert_eq!(console.publish("wang", "{\"a\":1}".into()), 1);
        let got = watch.rx.try_recv().unwrap();
        assert_eq!(
            (got.staff_id.as_str(), got.json.as_str()),
            ("wang", "{\"a\":1}")
        );
        drop(watch);
        assert_eq!(console.publish("wang", "{}".into()), 0);
        drop(other);
        assert_eq!(console.publish("zhao", "{}".into()), 0);
    }
}
