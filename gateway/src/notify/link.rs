//! One-tap acknowledgement links, `/ack/{token}`: the token names an alarm, a staff member and an
//! expiry, signed with HMAC-SHA256. Pure: time is passed in.
//!
//! Token = base64url(`1|{alarm_id}|{staff_id}|{expires_ms}`) `.` base64url(first 16 bytes of the
//! HMAC). Ids cannot contain `|` (they are `[A-Za-z0-9_.-]`), so the payload splits unambiguously.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;

/// Bytes of the HMAC kept in a token: 128 bits, short enough for an SMS.
const TAG: usize = 16;

/// What a token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The alarm to acknowledge.
    pub alarm_id: String,
    /// As whom.
    pub staff_id: String,
    /// Until when, ms since the epoch.
    pub expires_at: u64,
}

/// Why a token is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a token of ours, or altered.
    #[error("the link is not valid")]
    Invalid,
    /// Genuine, but too old.
    #[error("the link expired")]
    Expired(Claim),
}

/// The signing key.
pub struct LinkKey(hmac::Key);

impl std::fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LinkKey(..)")
    }
}

impl LinkKey {
    /// A key from secret bytes.
    pub fn new(secret: &[u8]) -> Self {
        LinkKey(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The token for `claim`.
    pub fn sign(&self, claim: &Claim) -> String {
        let payload = format!(
            "1|{}|{}|{}",
            claim.alarm_id, claim.staff_id, claim.expires_at
        );
        let tag = hmac::sign(&self.0, payload.as_bytes());
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(payload),
            URL_SAFE_NO_PAD.encode(&tag.as_ref()[..TAG])
        )
    }

    /// The claim of a genuine token still valid at `now`.
    pub fn verify(&self, token: &str, now: u64) -> Result<Claim, TokenError> {
        let (payload, tag) = token.split_once('.').ok_or(TokenError::Invalid)?;
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| TokenError::Invalid)?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| TokenError::Invalid)?;
        let expected = hmac::sign(&self.0, &payload);
        if tag.len() != TAG || !constant_time_eq(&tag, &expected.as_ref()[..TAG]) {
            return Err(TokenError::Invalid);
        }
        let text = std::str::from_utf8(&payload).map_err(|_| TokenError::Invalid)?;
        let mut parts = text.split('|');
        let (Some("1"), Some(alarm_id), Some(staff_id), Some(expires), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(TokenError::Invalid);
        };
        let claim = Claim {
            alarm_id: alarm_id.into(),
            staff_id: staff_id.into(),
            expires_at: expires.parse().map_err(|_| TokenError::Invalid)?,
        };
        if now >= claim.expires_at {
            return Err(TokenError::Expired(claim));
        }
        Ok(claim)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Fresh random secret bytes for a link key.
pub fn random_secret() -> Option<Vec<u8>> {
    use ring::rand::SecureRandom;
    let mut bytes = vec![0u8; 32];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;

    fn claim() -> Claim {
        Claim {
            alarm_id: "42".into(),
            staff_id: "wang.li-2".into(),
            expires_at: NOW + 60_000,
        }
    }

    #[test]
    fn a_signed_token_verifies_until_it_expires() {
        let key = LinkKey::new(b"0123456789abcdef0123456789abcdef");
        let token = key.sign(&claim());
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        );
        assert_eq!(key.verify(&token, NOW), Ok(claim()));
        assert_eq!(key.verify(&token, NOW + 59_999), Ok(claim()));
        assert_eq!(
            key.verify(&token, NOW + 60_000),
            Err(TokenError::Expired(claim()))
        );
    }

    #[test]
    fn tampered_tokens_and_other_keys_are_refused() {
        let key = LinkKey::new(b"0123456789abcdef0123456789abcdef");
        let token = key.sign(&claim());
        let other = LinkKey::new(b"another secret, another hub......");
        assert_eq!(other.verify(&token, NOW), Err(TokenError::Invalid));
        // Another alarm, another person or a later expiry under the same tag.
        let (_, tag) = token.split_once('.').unwrap();
        for payload in [
            "1|43|wang.li-2|1800000060000",
            "1|42|zhao|1800000060000",
            "1|42|wang.li-2|1900000000000",
        ] {
            let forged = format!("{}.{tag}", URL_SAFE_NO_PAD.encode(payload));
            assert_eq!(
                key.verify(&forged, NOW),
                Err(TokenError::Invalid),
                "{payload}"
            );
        }
        // Every single-character change.
        for i in 0..token.len() {
            let mut bytes = token.clone().into_bytes();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).unwrap();
            if changed != token {
                assert!(key.verify(&changed, NOW).is_err(), "{changed}");
            }
        }
        for junk in ["", ".", "abc", "a.b.c", "%%%.%%%"] {
            assert_eq!(key.verify(junk, NOW), Err(TokenError::Invalid));
        }
    }

    #[test]
    fn random_secrets_differ() {
        assert_ne!(random_secret(), random_secret());
    }
}
