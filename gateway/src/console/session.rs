//! Console sessions: a random token in an `HttpOnly; SameSite=Strict` cookie, kept in memory
//! (a restart signs everyone out), each with its own CSRF token. Bounded: at most
//! [`MAX_SESSIONS`]; when full, expired ones go first, then the least recently used.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use ring::rand::{SecureRandom, SystemRandom};

/// The session cookie.
pub const COOKIE: &str = "linli_session";
/// The header that carries the CSRF token on state-changing API calls made with the cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// A session ends after this long unused. A desk console reloads its board on every alarm
/// change, so a day covers a quiet night shift.
pub const IDLE_MS: u64 = 24 * 3_600 * 1_000;
/// Sessions kept at most.
pub const MAX_SESSIONS: usize = 4_096;

/// One signed-in browser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Staff id; `None` when the hub is open (no `[[staff]]`).
    pub staff_id: Option<String>,
    /// The token forms and `X-CSRF-Token` must carry.
    pub csrf: String,
    last_used: u64,
}

impl Session {
    /// True when `token` is this session's CSRF token (compared in constant time).
    pub fn csrf_ok(&self, token: &str) -> bool {
        let (a, b) = (self.csrf.as_bytes(), token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// Every session, by the SHA-256 of its cookie token (so the map holds no usable secret).
#[derive(Debug)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    random: SystemRandom,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions {
            map: Mutex::default(),
            random: SystemRandom::new(),
        }
    }
}

impl Sessions {
    /// Starts a session; returns its cookie token and the session, or `None` without system
    /// randomness.
    pub fn create(&self, staff_id: Option<String>, now: u64) -> Option<(String, Session)> {
        let token = self.random_hex()?;
        let session = Session {
            staff_id,
            csrf: self.random_hex()?,
            last_used: now,
        };
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= MAX_SESSIONS {
            map.retain(|_, s| now.saturating_sub(s.last_used) < IDLE_MS);
        }
        if map.len() >= MAX_SESSIONS {
            let oldest = map
                .iter()
                .min_by_key(|(_, s)| s.last_used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                map.remove(&k);
            }
        }
        map.insert(digest(&token), session.clone());
        Some((token, session))
    }

    /// The live session of `token`, marked as used now.
    pub fn get(&self, token: &str, now: u64) -> Option<Session> {
        let key = digest(token);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        let live = map
            .get(&key)
            .is_some_and(|s| now.saturating_sub(s.last_used) < IDLE_MS);
        if !live {
            map.remove(&key);
            return None;
        }
        let s = map.get_mut(&key)?;
        s.last_used = now;
        Some(s.clone())
    }

    /// The live session named by the request's cookie.
    pub fn from_headers(&self, headers: &HeaderMap, now: u64) -> Option<Session> {
        self.get(&cookie(headers, COOKIE)?, now)
    }

    /// Ends the session of `token`.
    pub fn remove(&self, token: &str) {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&digest(token));
    }

    fn random_hex(&self) -> Option<String> {
        let mut bytes = [0u8; 32];
        self.random.fill(&mut bytes).ok()?;
        Some(hex(&bytes))
    }
}

fn digest(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The value of cookie `name` in the request.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then(|| v.to_string())
        })
}

/// `Set-Cookie` for a session token.
pub fn set_cookie(token: &str) -> String {
    format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/")
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lives_while_used_and_ends_when_idle_or_removed() {
        let sessions = Sessions::default();
        let (token, s) = sessions.create(Some("wang".into()), 1_000).unwrap();
        assert_eq!(token.len(), 64);
        assert_ne!(token, s.csrf);
        let got = sessions.get(&token, 1_000 + IDLE_MS - 1).unwrap();
        assert_eq!(got.staff_id.as_deref(), Some("wang"));
        // Used just now: the idle clock restarted.
        assert!(sessions.get(&token, 1_000 + 2 * IDLE_MS - 2).is_some());
        assert!(sessions.get(&token, 1_000 + 4 * IDLE_MS).is_none());
        let (token, _) = sessions.create(None, 0).unwrap();
        sessions.remove(&token);
        assert!(sessions.get(&token, 0).is_none());
        assert!(sessions.get("forged", 0).is_none());
    }

    #[test]
    fn csrf_tokens_compare_exactly() {
        let sessions = Sessions::default();
        let (_, s) = sessions.create(None, 0).unwrap();
        assert!(s.csrf_ok(&s.csrf.clone()));
        assert!(!s.csrf_ok(""));
        assert!(!s.csrf_ok(&s.csrf[1..]));
    }

    #[test]
    fn the_store_is_bounded() {
        let sessions = Sessions::default();
        let (first, _) = sessions.create(None, 0).unwrap();
        for i in 1..=MAX_SESSIONS as u64 {
            sessions.create(None, i).unwrap();
        }
        assert_eq!(sessions.map.lock().unwrap().len(), MAX_SESSIONS);
        assert!(
            sessions.get(&first, 10).is_none(),
            "the least recently used went"
        );
    }

    #[test]
    fn cookies_are_read_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            "a=1; linli_session=abc; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&h, COOKIE).as_deref(), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
