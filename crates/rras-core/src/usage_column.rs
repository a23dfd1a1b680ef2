//! The usage column of a block of ended sessions: for each, what a report
//! reads ([`UsageSession`]) and nothing else, so a month's report over ten
//! million sessions reads a few hundred megabytes of varints instead of
//! decoding every record.
//!
//! Layout: u8 version (1) · varint n · n × (zigzag start − previous start ·
//! varint duration · 8 B user hash, little-endian · u8 engine (its place in
//! `EngineKind::ALL`) · varint bytes in · varint bytes out). Times are
//! whole seconds.

use crate::model::EngineKind;
use crate::record::{put_varint, put_zigzag, Reader, RecordError};
use crate::usage::UsageSession;

const VERSION: u8 = 1;

/// The column of `sessions` (their `ended` taken as their start when None).
pub fn encode(sessions: &[UsageSession]) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + sessions.len() * 24);
    out.push(VERSION);
    put_varint(&mut out, sessions.len() as u64);
    let mut previous = 0u64;
    for s in sessions {
        put_zigzag(&mut out, s.started.wrapping_sub(previous) as i64);
        previous = s.started;
        put_varint(&mut out, s.ended.unwrap_or(s.started).saturating_sub(s.started));
        out.extend_from_slice(&s.user.to_le_bytes());
        out.push(EngineKind::ALL.iter().position(|e| *e == s.engine).unwrap_or(0) as u8);
        put_varint(&mut out, s.bytes_in);
        put_varint(&mut out, s.bytes_out);
    }
    out
}

/// Calls `each` with every session of the column, in order; a column that
/// does not decode is an error after the sessions before the fault.
pub fn decode(bytes: &[u8], mut each: impl FnMut(&UsageSession)) -> Result<usize, RecordError> {
    let mut r = Reader::new(bytes);
    let version = r.u8()?;
    if version != VERSION {
        return Err(RecordError::Version(version));
    }
    let n = r.varint()?;
    // Each session takes at least 13 bytes: a count beyond that is a lie.
    if n > (bytes.len() / 13) as u64 {
        return Err(RecordError::Invalid("usage column count"));
    }
    let mut previous = 0u64;
    for _ in 0..n {
        let started = previous.wrapping_add(r.zigzag()? as u64);
        previous = started;
        let duration = r.varint()?;
        let user = u64::from_le_bytes(r.array::<8>()?);
        let engine = *EngineKind::ALL
            .get(usize::from(r.u8()?))
            .ok_or(RecordError::Invalid("usage column engine"))?;
        let bytes_in = r.varint()?;
        let bytes_out = r.varint()?;
        each(&UsageSession {
            started,
            ended: Some(started.saturating_add(duration)),
            user,
            engine,
            bytes_in,
            bytes_out,
        });
    }
    match bytes.len() - r.pos {
        0 => Ok(n as usize),
        extra => Err(RecordError::Trailing(extra)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(started: u64, ended: u64, user: u64, engine: EngineKind) -> UsageSession {
        UsageSession {
            started,
            ended: Some(ended),
            user,
            engine,
            bytes_in: started.wrapping_mul(3),
            bytes_out: u64::MAX - started,
        }
    }

    #[test]
    fn round_trips_including_starts_that_go_backwards() {
        let sessions = [
            session(1_800_000_000, 1_800_003_600, 42, EngineKind::Radius),
            session(1_799_000_000, 1_800_000_001, u64::MAX, EngineKind::Softether),
            session(0, 0, 0, EngineKind::Wireguard),
            session(u64::MAX / 2, u64::MAX / 2 + 1, 7, EngineKind::Strongswan),
        ];
        let bytes = encode(&sessions);
        let mut back = Vec::new();
        assert_eq!(decode(&bytes, |s| back.push(*s)).unwrap(), 4);
        assert_eq!(back, sessions);
    }

    #[test]
    fn bad_columns_are_errors_not_panics() {
        let bytes = encode(&[session(10, 20, 1, EngineKind::Radius)]);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut], |_| {}).is_err(), "cut at {cut}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(decode(&extra, |_| {}), Err(RecordError::Trailing(1)));
        let mut lie = bytes.clone();
        lie[1] = 0x7f;
        assert!(decode(&lie, |_| {}).is_err());
        let mut engine = bytes;
        // version, count, start, duration, 8 bytes of hash: the engine.
        engine[12] = 200;
        assert!(decode(&engine, |_| {}).is_err());
    }
}
