//! Binary keys and compact values. Time series keys sort by (kind, UTC day, device, time, seq),
//! big-endian; a reading is a tag and a few bytes, not JSON.

use linli_protocols::Value;

/// Key prefix of telemetry samples.
pub const TELEMETRY: u8 = b'T';
/// Key prefix of device events.
pub const EVENT: u8 = b'E';
/// Key prefix of per-device duplicate windows.
pub const WINDOW: u8 = b'W';
/// Key prefix of alarm records, by id.
pub const ALARM: u8 = b'A';
/// Key prefix of the index of alarms not yet resolved.
pub const OPEN: u8 = b'O';
/// Key prefix of the notification outbox.
pub const OUTBOX: u8 = b'N';
/// Key prefix of the audit trail.
pub const AUDIT: u8 = b'U';
/// Key prefix of delivery receipts: `R ‖ alarm id ‖ sequence`.
pub const RECEIPT: u8 = b'R';
/// Key prefix of household states.
pub const HOUSEHOLD: u8 = b'H';
/// Key prefix of rule states: `S ‖ len(rule) ‖ rule ‖ device`.
pub const RULE_TIMER: u8 = b'S';

/// `prefix ‖ id` (big-endian), for records numbered in order.
pub fn id_key(prefix: u8, id: u64) -> [u8; 9] {
    let mut k = [prefix; 9];
    k[1..].copy_from_slice(&id.to_be_bytes());
    k
}

/// The id of an [`id_key`].
pub fn key_id(k: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(k.get(1..9)?.try_into().ok()?))
}

/// A partition's length: telemetry blocks and events are keyed by the UTC day first, so that
/// retention deletes whole days from the front of the tree and reads nothing else.
pub const DAY_MS: u64 = 86_400_000;

/// The partition of a time (times past year 11 million share the last one).
pub fn day(ts: u64) -> u32 {
    u32::try_from(ts / DAY_MS).unwrap_or(u32::MAX)
}

/// The first time of a partition.
pub fn day_start(day: u32) -> u64 {
    u64::from(day) * DAY_MS
}

/// The last time of a partition.
pub fn day_end(day: u32) -> u64 {
    if day == u32::MAX {
        u64::MAX
    } else {
        day_start(day + 1) - 1
    }
}

/// `prefix ‖ day (u32 BE)`: where the day's records of one kind begin.
pub fn day_key(prefix: u8, day: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(5 + 1 + 32 + 16);
    k.push(prefix);
    k.extend_from_slice(&day.to_be_bytes());
    k
}

/// `prefix ‖ day ‖ len(id) ‖ id`: where one device's records of the day begin.
pub fn device_day_key(prefix: u8, day: u32, id: &str) -> Vec<u8> {
    let mut k = day_key(prefix, day);
    k.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    k.extend_from_slice(id.as_bytes());
    k
}

/// The day of a [`day_key`]-led key.
pub fn key_day(k: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(k.get(1..5)?.try_into().ok()?))
}

/// `prefix ‖ len(id) ‖ id`: the key of a per-device record (windows, rule states).
pub fn device_prefix(prefix: u8, id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(2 + id.len() + 16);
    k.push(prefix);
    k.push(u8::try_from(id.len()).unwrap_or(u8::MAX));
    k.extend_from_slice(id.as_bytes());
    k
}

const NUM_F64: u8 = 0;
const BOOL_FALSE: u8 = 1;
const BOOL_TRUE: u8 = 2;
const TEXT: u8 = 3;
/// Tags 4..=9: decimal with 0..=5 fraction digits, mantissa as a zigzag varint.
const DECIMAL: u8 = 4;
const MAX_DECIMALS: u8 = 5;

/// Encodes one reading: `tag ‖ data`, a decimal as a zigzag varint mantissa.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Bool(false) => out.push(BOOL_FALSE),
        Value::Bool(true) => out.push(BOOL_TRUE),
        Value::Text(t) => {
            out.push(TEXT);
            put_varint(out, t.len() as u64);
            out.extend_from_slice(t.as_bytes());
        }
        Value::Number(n) => match as_decimal(*n) {
            Some((digits, mantissa)) => {
                out.push(DECIMAL + digits);
                put_varint(out, zigzag(mantissa));
            }
            None => {
                out.push(NUM_F64);
                out.extend_from_slice(&n.to_le_bytes());
            }
        },
    }
}

/// Reads one reading written by [`encode_value`].
pub fn decode_value(b: &mut &[u8]) -> Option<Value> {
    let tag = take(b, 1)?[0];
    Some(match tag {
        NUM_F64 => Value::Number(f64::from_le_bytes(take(b, 8)?.try_into().ok()?)),
        BOOL_FALSE => Value::Bool(false),
        BOOL_TRUE => Value::Bool(true),
        TEXT => Value::Text(get_str(b)?.to_string()),
        t if (DECIMAL..=DECIMAL + MAX_DECIMALS).contains(&t) => {
            let mantissa = unzigzag(get_varint(b)?);
            Value::Number(mantissa as f64 / 10f64.powi(i32::from(t - DECIMAL)))
        }
        _ => return None,
    })
}

/// Steps over one reading written by [`encode_value`] without building it.
pub fn skip_value(b: &mut &[u8]) -> Option<()> {
    let tag = take(b, 1)?[0];
    match tag {
        NUM_F64 => take(b, 8).map(drop),
        BOOL_FALSE | BOOL_TRUE => Some(()),
        TEXT => get_str(b).map(drop),
        t if (DECIMAL..=DECIMAL + MAX_DECIMALS).contains(&t) => get_varint(b).map(drop),
        _ => None,
    }
}

/// Reads `varint len ‖ UTF-8 bytes`.
pub fn get_str<'a>(b: &mut &'a [u8]) -> Option<&'a str> {
    let n = usize::try_from(get_varint(b)?).ok()?;
    std::str::from_utf8(take(b, n)?).ok()
}

/// `n` as `mantissa / 10^digits` when that reproduces `n` exactly.
fn as_decimal(n: f64) -> Option<(u8, i64)> {
    (0..=MAX_DECIMALS).find_map(|digits| {
        let scale = 10f64.powi(i32::from(digits));
        let m = (n * scale).round();
        // Beyond 2^53 the mantissa is no longer exact.
        (m.abs() < 9.0e15 && m / scale == n).then_some((digits, m as i64))
    })
}

/// Appends an LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an LEB128 varint.
pub fn get_varint(b: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = take(b, 1)?[0];
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Some(v);
        }
    }
    None
}

/// Maps signed to unsigned so small magnitudes stay short.
pub fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// Inverse of [`zigzag`].
pub fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    let (head, tail) = b.split_at_checked(n)?;
    *b = tail;
    Some(head)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_value() -> impl Strategy<Value = Value> {
        prop_oneof![
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::Number),
            (-100_000i64..100_000, 0u32..4)
                .prop_map(|(m, d)| Value::Number(m as f64 / 10f64.powi(d as i32))),
            any::<bool>().prop_map(Value::Bool),
            "\\PC{0,30}".prop_map(Value::Text),
        ]
    }

    proptest! {
        #[test]
        fn values_round_trip(value in arb_value()) {
            let mut buf = Vec::new();
            encode_value(&value, &mut buf);
            let mut rest = buf.as_slice();
            prop_assert_eq!(decode_value(&mut rest), Some(value));
            prop_assert!(rest.is_empty());
        }

        #[test]
        fn corrupt_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_value(&mut bytes.as_slice());
        }

        #[test]
        fn zigzag_round_trips(v in any::<i64>()) {
            prop_assert_eq!(unzigzag(zigzag(v)), v);
        }
    }

    #[test]
    fn typical_reading_is_small() {
        let mut buf = Vec::new();
        encode_value(&Value::Number(21.4), &mut buf);
        assert_eq!(buf.len(), 3);
    }
}
