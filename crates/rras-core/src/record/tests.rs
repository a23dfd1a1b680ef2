use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::synthetic;

/// Times are kept to the microsecond.
fn to_micros(t: SystemTime) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(t.duration_since(UNIX_EPOCH).unwrap().as_micros() as u64)
}

fn normalised(mut c: Connection) -> Connection {
    c.info.started_at = to_micros(c.info.started_at);
    c.info.probation_time = c.info.probation_time.map(to_micros);
    c
}

fn sample(i: u64) -> Connection {
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    Connection {
        handle: ConnectionHandle::new(i as u32 + 1).unwrap(),
        info: synthetic::connection(i, now),
    }
}

#[test]
fn synthetic_connections_round_trip() {
    for i in 0..64 {
        let c = sample(i);
        let r = Record::encode(&c);
        assert_eq!(r.decode(), normalised(c.clone()));
        assert_eq!(r.handle(), c.handle);
        assert_eq!(r.source(), SourceRef::of(&c.info.source));
        assert_eq!(Record::from_bytes(r.as_bytes()).unwrap(), r);
    }
}

#[test]
fn a_typical_record_is_small() {
    let sizes: Vec<usize> = (0..100).map(|i| Record::encode(&sample(i)).as_bytes().len()).collect();
    let avg = sizes.iter().sum::<usize>() / sizes.len();
    assert!(avg < 200, "average record {avg} bytes");
}

#[test]
fn decode_into_reuses_and_overwrites_everything() {
    let mut a = sample(1);
    a.info.engine_attributes = vec![("x".into(), "1".into()), ("y".into(), "2".into())];
    a.info.probation_time = Some(UNIX_EPOCH + Duration::from_secs(5));
    let b = sample(2);
    let mut scratch = empty_connection();
    decode_into(Record::encode(&a).as_bytes(), &mut scratch).unwrap();
    assert_eq!(scratch, normalised(a));
    decode_into(Record::encode(&b).as_bytes(), &mut scratch).unwrap();
    assert_eq!(scratch, normalised(b));
}

#[test]
fn times_before_1970_and_far_ahead_survive() {
    let mut c = sample(3);
    c.info.started_at = UNIX_EPOCH - Duration::from_secs(86_400);
    c.info.probation_time = Some(UNIX_EPOCH + Duration::from_secs(4_000_000_000));
    assert_eq!(Record::encode(&c).decode(), c);
}

#[test]
fn version_1_records_read_as_the_default_instance() {
    // Version 1 had no instance field: the same bytes minus the (empty)
    // instance string right after the engine byte.
    let c = sample(5);
    assert!(c.info.source.instance.is_empty());
    let v2 = Record::encode(&c);
    assert_eq!(v2.as_bytes()[0], 2);
    assert_eq!(v2.as_bytes()[6], 0, "empty instance");
    let mut v1 = v2.as_bytes().to_vec();
    v1.remove(6);
    v1[0] = 1;
    let old = Record::from_bytes(&v1).unwrap();
    assert_eq!(old.decode(), c);
    assert_eq!(old.source(), v2.source());

    let mut named = c.clone();
    named.info.source.instance = "ovpn-udp".into();
    let r = Record::encode(&named);
    assert_eq!(r.source().instance, "ovpn-udp");
    assert_ne!(r.source(), v2.source(), "instances keep keys apart");
    assert_eq!(r.decode(), named);
}

#[test]
fn history_entries_round_trip_and_reject_garbage() {
    let ended = EndedConnection {
        connection: sample(6),
        ended_at: UNIX_EPOCH + Duration::from_secs(1_800_000_123),
        reason: "idle-timeout".into(),
    };
    let bytes = encode_ended(&ended);
    assert_eq!(decode_ended(&bytes), Ok(ended));
    for cut in 0..bytes.len() {
        assert!(decode_ended(&bytes[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
    let mut v = bytes.clone();
    v[0] = 7;
    assert_eq!(decode_ended(&v), Err(RecordError::Version(7)));
}

#[test]
fn bad_records_are_errors() {
    let good = Record::encode(&sample(4));
    let b = good.as_bytes();
    assert_eq!(Record::from_bytes(&[]), Err(RecordError::Truncated(0)));
    let mut v = b.to_vec();
    v[0] = 9;
    assert_eq!(Record::from_bytes(&v), Err(RecordError::Version(9)));
    let mut v = b.to_vec();
    v.push(0);
    assert_eq!(Record::from_bytes(&v), Err(RecordError::Trailing(1)));
    for cut in 0..b.len() {
        assert!(Record::from_bytes(&b[..cut]).is_err(), "prefix of {cut} bytes accepted");
    }
    // Handle 0 is never a handle.
    let mut v = b.to_vec();
    v[1..5].fill(0);
    assert_eq!(Record::from_bytes(&v), Err(RecordError::Invalid("handle")));
}

#[test]
fn frames_split_a_chunk_and_reject_a_lying_length() {
    let rs: Vec<Record> = (0..5).map(|i| Record::encode(&sample(i))).collect();
    let mut chunk = Vec::new();
    for r in &rs {
        push_frame(&mut chunk, r);
    }
    let back: Vec<&[u8]> = RecordFrames::new(&chunk).collect::<Result<_, _>>().unwrap();
    assert_eq!(back.len(), 5);
    assert_eq!(back[3], rs[3].as_bytes());
    chunk.push(0x7f); // a frame of 127 bytes with none following
    let last = RecordFrames::new(&chunk).last().unwrap();
    assert!(last.is_err());
}

fn arb_connection() -> impl Strategy<Value = Connection> {
    (
        1u32..,
        any::<u64>(),
        ".{0,12}",
        ".{0,40}",
        prop::option::of("[a-z0-9-]{1,12}"),
        prop::collection::vec((".{0,8}", ".{0,8}"), 0..4),
        any::<[u64; 2]>(),
        any::<[u32; 8]>(),
        any::<bool>(),
        any::<i32>(),
    )
        .prop_map(|(h, i, user, sid, instance, attrs, bytes, small, v6, secs)| {
            let mut c = sample(i % 1000);
            c.handle = ConnectionHandle::new(h).unwrap();
            c.info.user_name = user;
            c.info.source.session_id = sid;
            c.info.source.instance = instance.unwrap_or_default();
            c.info.engine_attributes = attrs;
            c.info.stats.bytes_xmited = bytes[0];
            c.info.stats.bytes_rcved = bytes[1];
            c.info.stats.crc_err = small[0];
            c.info.interface_handle = small[1];
            c.info.flags = small[2];
            c.info.device_type = small[3];
            c.info.started_at = if secs >= 0 {
                UNIX_EPOCH + Duration::from_micros(secs as u64 * 1_000_003)
            } else {
                UNIX_EPOCH - Duration::from_micros(secs.unsigned_abs() as u64 * 999)
            };
            if v6 {
                c.info
                    .projection
                    .ipv6_mut()
                    .set_remote_address("2001:db8::1".parse().unwrap());
                c.info.projection.ipv6_mut().sub_interface_index = bytes[0];
                c.info.remote_endpoint = Some("2001:db8::2".parse().unwrap());
            }
            c
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_connection_round_trips(c in arb_connection()) {
        let r = Record::encode(&c);
        prop_assert_eq!(r.decode(), c.clone());
        prop_assert_eq!(Record::from_bytes(r.as_bytes()).map(|r| r.decode()), Ok(c));
    }

    /// The decoder is fed by a server the client does not control: any
    /// bytes give a record or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Record::from_bytes(&bytes);
        for f in RecordFrames::new(&bytes).flatten() {
            let _ = Record::from_bytes(f);
        }
    }

    /// Mutations of a valid record (the likelier hostile input) likewise.
    #[test]
    fn mutated_records_never_panic(c in arb_connection(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut v = Record::encode(&c).as_bytes().to_vec();
        let i = at.index(v.len());
        v[i] = byte;
        if let Ok(r) = Record::from_bytes(&v) {
            // Whatever decodes is a connection that survives its own round trip.
            let c = r.decode();
            prop_assert_eq!(Record::encode(&c).decode(), c);
        }
    }
}
