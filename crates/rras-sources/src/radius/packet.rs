//! RADIUS packet codec (RFC 2865 §3, §5; RFC 2866 §3; RFC 5176 §2.3).
//!
//! Decoding never panics and never allocates more than the datagram: every
//! length is checked against what is left. Attributes are kept as raw
//! `(type, value)` pairs; meaning is given in `accounting.rs`.

use md5::{Digest, Md5};

use super::attributes::MESSAGE_AUTHENTICATOR;

/// Accounting-Request.
pub const ACCOUNTING_REQUEST: u8 = 4;
/// Accounting-Response.
pub const ACCOUNTING_RESPONSE: u8 = 5;
/// Status-Server (RFC 5997).
pub const STATUS_SERVER: u8 = 12;
/// Disconnect-Request (RFC 5176).
pub const DISCONNECT_REQUEST: u8 = 40;
/// Disconnect-ACK.
pub const DISCONNECT_ACK: u8 = 41;
/// Disconnect-NAK.
pub const DISCONNECT_NAK: u8 = 42;

/// Smallest and largest packet RFC 2865 allows.
pub const MIN_LEN: usize = 20;
/// The largest packet; anything longer is malformed.
pub const MAX_LEN: usize = 4096;

/// Why a datagram is not a RADIUS packet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// Shorter than the 20-byte header.
    #[error("datagram of {0} bytes is shorter than a RADIUS header")]
    Truncated(usize),
    /// The Length field is below 20, above 4096 or above the datagram size.
    #[error("length field {length} is invalid for a datagram of {datagram} bytes")]
    BadLength {
        /// The Length field.
        length: usize,
        /// Bytes received.
        datagram: usize,
    },
    /// An attribute's length is below 2 or runs past the packet.
    #[error("attribute {attr_type} at offset {offset} has invalid length {length}")]
    BadAttribute {
        /// Its type.
        attr_type: u8,
        /// Where it starts.
        offset: usize,
        /// Its Length byte.
        length: u8,
    },
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Code.
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    /// The 16-byte authenticator as sent.
    pub authenticator: [u8; 16],
    /// Attributes in order.
    pub attributes: Vec<(u8, Vec<u8>)>,
}

impl Packet {
    /// Decodes a datagram into owned attributes; bytes beyond the Length
    /// field are padding and ignored (RFC 2865 §3).
    pub fn decode(datagram: &[u8]) -> Result<Packet, PacketError> {
        PacketView::decode(datagram).map(|view| view.to_packet())
    }

    /// The first value of attribute `t`.
    pub fn attr(&self, t: u8) -> Option<&[u8]> {
        Attributes::attr(self, t)
    }

    /// Encodes with `authenticator` in the header.
    fn encode_with(&self, authenticator: &[u8; 16]) -> Vec<u8> {
        let mut out = vec![self.code, self.identifier, 0, 0];
        out.extend_from_slice(authenticator);
        for (t, v) in &self.attributes {
            // Values over 253 bytes cannot be encoded; they are split by
            // callers that build them, so this truncation never triggers.
            let v = &v[..v.len().min(253)];
            out.push(*t);
            out.push((v.len() + 2) as u8);
            out.extend_from_slice(v);
        }
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        out
    }

    /// Encodes a request whose authenticator is
    /// MD5(Code+Id+Length+16 zero octets+Attributes+Secret): Accounting-Request
    /// (RFC 2866 §3) and Disconnect-Request (RFC 5176 §2.3).
    pub fn encode_request(&self, secret: &[u8]) -> Vec<u8> {
        let mut out = self.encode_with(&[0u8; 16]);
        let digest = md5_of(&[&out, secret]);
        out[4..20].copy_from_slice(&digest);
        out
    }

    /// The packet's bytes with its own authenticator: a decoded packet as
    /// it was on the wire.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_with(&self.authenticator)
    }

    /// Encodes a request like [`encode_request`](Self::encode_request),
    /// with a Message-Authenticator appended (RFC 3579 §3.2, RFC 5176 §3.3).
    pub fn encode_request_signed(&self, secret: &[u8]) -> Vec<u8> {
        self.encode_signed(&[0u8; 16], secret)
    }

    /// Encodes a response like [`encode_response`](Self::encode_response),
    /// with a Message-Authenticator appended.
    pub fn encode_response_signed(&self, request_authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        self.encode_signed(request_authenticator, secret)
    }

    /// A request whose authenticator is its own random value (Status-Server,
    /// RFC 5997; Access-Request): the packet as is, with a
    /// Message-Authenticator over it appended.
    pub fn encode_status_request(&self, secret: &[u8]) -> Vec<u8> {
        let mut out = self.encode_with(&self.authenticator);
        let at = out.len() + 2;
        out.extend_from_slice(&[MESSAGE_AUTHENTICATOR, 18]);
        out.extend_from_slice(&[0u8; 16]);
        let len = out.len() as u16;
        out[2..4].copy_from_slice(&len.to_be_bytes());
        let mac = hmac_md5(secret, &out);
        out[at..at + 16].copy_from_slice(&mac);
        out
    }

    /// The packet with `middle` (16 zeros for a request, the request's
    /// authenticator for a response) in the authenticator field and a
    /// Message-Authenticator appended: HMAC-MD5 keyed with the secret over
    /// that packet with the attribute's value zeroed; then the
    /// authenticator, MD5 over the finished packet and the secret.
    fn encode_signed(&self, middle: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        let mut out = Packet {
            authenticator: *middle,
            ..self.clone()
        }
        .encode_status_request(secret);
        let digest = md5_of(&[&out, secret]);
        out[4..20].copy_from_slice(&digest);
        out
    }

    /// Encodes a response to a request with `request_authenticator`:
    /// MD5(Code+Id+Length+RequestAuth+Attributes+Secret).
    pub fn encode_response(&self, request_authenticator: &[u8; 16], secret: &[u8]) -> Vec<u8> {
        let mut out = self.encode_with(request_authenticator);
        let digest = md5_of(&[&out, secret]);
        out[4..20].copy_from_slice(&digest);
        out
    }
}

/// A packet decoded in place: the header, and attributes read from the
/// datagram's bytes when asked. The receive path uses it so a request
/// costs no allocation before its meaning is known (the ingest profile
/// showed a dozen per request, one per attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketView<'a> {
    /// Code.
    pub code: u8,
    /// Identifier.
    pub identifier: u8,
    /// The 16-byte authenticator as sent.
    pub authenticator: [u8; 16],
    /// The attribute bytes, every length already checked.
    attributes: &'a [u8],
}

impl<'a> PacketView<'a> {
    /// Checks a datagram's header and every attribute's length; bytes
    /// beyond the Length field are padding and ignored (RFC 2865 §3).
    pub fn decode(datagram: &'a [u8]) -> Result<PacketView<'a>, PacketError> {
        if datagram.len() < MIN_LEN {
            return Err(PacketError::Truncated(datagram.len()));
        }
        let length = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
        if !(MIN_LEN..=MAX_LEN).contains(&length) || length > datagram.len() {
            return Err(PacketError::BadLength {
                length,
                datagram: datagram.len(),
            });
        }
        let mut authenticator = [0u8; 16];
        authenticator.copy_from_slice(&datagram[4..20]);
        let mut offset = MIN_LEN;
        while offset < length {
            let attr_type = datagram[offset];
            let attr_len = datagram.get(offset + 1).copied().unwrap_or(0);
            let end = offset + usize::from(attr_len);
            if attr_len < 2 || end > length {
                return Err(PacketError::BadAttribute {
                    attr_type,
                    offset,
                    length: attr_len,
                });
            }
            offset = end;
        }
        Ok(PacketView {
            code: datagram[0],
            identifier: datagram[1],
            authenticator,
            attributes: &datagram[MIN_LEN..length],
        })
    }

    /// The attributes in order, borrowed from the datagram.
    pub fn attributes(&self) -> AttributeIter<'a> {
        AttributeIter { rest: self.attributes }
    }

    /// The same packet with owned attributes.
    pub fn to_packet(&self) -> Packet {
        Packet {
            code: self.code,
            identifier: self.identifier,
            authenticator: self.authenticator,
            attributes: self.attributes().map(|(t, v)| (t, v.to_vec())).collect(),
        }
    }
}

/// The attributes of a [`PacketView`].
#[derive(Debug, Clone)]
pub struct AttributeIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for AttributeIter<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Lengths were checked by `decode`; a short remainder still ends
        // the walk rather than panicking.
        let (&attr_type, rest) = self.rest.split_first()?;
        let len = usize::from(*rest.first()?);
        let value = self.rest.get(2..len)?;
        self.rest = &self.rest[len..];
        Some((attr_type, value))
    }
}

/// A decoded packet's attributes, owned ([`Packet`]) or borrowed
/// ([`PacketView`]): what gives them meaning reads either.
pub trait Attributes {
    /// Every attribute, in order.
    fn each(&self) -> impl Iterator<Item = (u8, &[u8])>;

    /// The first value of attribute `t`.
    fn attr(&self, t: u8) -> Option<&[u8]> {
        self.each().find(|(a, _)| *a == t).map(|(_, v)| v)
    }
}

impl Attributes for Packet {
    fn each(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.attributes.iter().map(|(t, v)| (*t, v.as_slice()))
    }
}

impl Attributes for PacketView<'_> {
    fn each(&self) -> impl Iterator<Item = (u8, &[u8])> {
        self.attributes()
    }
}

/// The Accounting-Response to a request with `identifier` and
/// `request_authenticator`: no attributes, so always [`MIN_LEN`] bytes, with
/// the authenticator MD5(Code+Id+Length+RequestAuth+Secret).
pub fn accounting_response(identifier: u8, request_authenticator: &[u8; 16], secret: &[u8]) -> [u8; MIN_LEN] {
    let mut out = [0u8; MIN_LEN];
    out[..4].copy_from_slice(&[ACCOUNTING_RESPONSE, identifier, 0, MIN_LEN as u8]);
    let digest = md5_of(&[&out[..4], request_authenticator, secret]);
    out[4..].copy_from_slice(&digest);
    out
}

fn md5_of(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// True when `datagram` (already decoded as valid) carries a correct
/// request authenticator for `secret`. Compared in constant time.
pub fn request_authenticator_ok(datagram: &[u8], secret: &[u8]) -> bool {
    authenticator_ok(datagram, &[0u8; 16], secret)
}

/// True when a response's authenticator matches the request it answers.
pub fn response_authenticator_ok(datagram: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> bool {
    authenticator_ok(datagram, request_authenticator, secret)
}

/// MD5(Code+Id+Length+`middle`+Attributes+Secret) equals the packet's
/// authenticator; `middle` is 16 zero octets for requests (RFC 2866 §3) and
/// the request authenticator for responses (RFC 2865 §3).
fn authenticator_ok(datagram: &[u8], middle: &[u8; 16], secret: &[u8]) -> bool {
    let Some(len) = datagram
        .get(2..4)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    else {
        return false;
    };
    let Some(packet) = datagram.get(..len).filter(|p| p.len() >= MIN_LEN) else {
        return false;
    };
    let digest = md5_of(&[&packet[..4], middle, &packet[20..], secret]);
    constant_time_eq(&digest, &packet[4..20])
}

/// A response's Message-Authenticator, if it carries one: `Some(true)`
/// when it is HMAC-MD5(secret, the response with the request's
/// authenticator in place of its own and the attribute's value zeroed)
/// (RFC 3579 §3.2). `Some(false)` for a wrong one, or one of the wrong size
/// or given twice.
pub fn message_authenticator_ok(datagram: &[u8], request_authenticator: &[u8; 16], secret: &[u8]) -> Option<bool> {
    let view = PacketView::decode(datagram).ok()?;
    let len = MIN_LEN + view.attributes.len();
    let mut offset = MIN_LEN;
    let mut found = None;
    for (t, v) in view.attributes() {
        if t == MESSAGE_AUTHENTICATOR {
            if found.is_some() || v.len() != 16 {
                return Some(false);
            }
            found = Some(offset + 2);
        }
        offset += v.len() + 2;
    }
    let at = found?;
    let mut copy = datagram.get(..len)?.to_vec();
    copy[4..20].copy_from_slice(request_authenticator);
    copy[at..at + 16].fill(0);
    Some(constant_time_eq(&hmac_md5(secret, &copy), &datagram[at..at + 16]))
}

fn hmac_md5(key: &[u8], data: &[u8]) -> [u8; 16] {
    use hmac::Mac;
    // HMAC takes keys of any length (longer ones are hashed first).
    let Ok(mut mac) = hmac::Hmac::<Md5>::new_from_slice(key) else {
        return [0; 16];
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Packet {
        Packet {
            code: ACCOUNTING_REQUEST,
            identifier: 7,
            authenticator: [0; 16],
            attributes: vec![
                (1, b"user1".to_vec()),
                (44, b"lab-0001".to_vec()),
                (40, vec![0, 0, 0, 1]),
            ],
        }
    }

    #[test]
    fn request_round_trip_and_authenticator() {
        let bytes = sample().encode_request(b"testing123");
        assert!(request_authenticator_ok(&bytes, b"testing123"));
        assert!(!request_authenticator_ok(&bytes, b"wrong"));
        let decoded = Packet::decode(&bytes).unwrap();
        assert_eq!(decoded.attributes, sample().attributes);
        assert_eq!(decoded.attr(44), Some(&b"lab-0001"[..]));
        let mut tampered = bytes.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(!request_authenticator_ok(&tampered, b"testing123"));
    }

    #[test]
    fn response_authenticator() {
        let req = sample().encode_request(b"s");
        let req_auth: [u8; 16] = req[4..20].try_into().unwrap();
        let resp = Packet {
            code: ACCOUNTING_RESPONSE,
            identifier: 7,
            authenticator: [0; 16],
            attributes: vec![],
        }
        .encode_response(&req_auth, b"s");
        assert_eq!(resp.len(), 20);
        assert!(response_authenticator_ok(&resp, &req_auth, b"s"));
        assert!(!response_authenticator_ok(&resp, &[1; 16], b"s"));
        // The receive path's fixed-size answer is the same bytes.
        assert_eq!(accounting_response(7, &req_auth, b"s").as_slice(), resp.as_slice());
    }

    #[test]
    fn message_authenticator_signs_requests_and_responses() {
        // RFC 2202 test case 2: HMAC-MD5("Jefe", "what do ya want for nothing?").
        assert_eq!(
            hex::encode(hmac_md5(b"Jefe", b"what do ya want for nothing?")),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        let req = sample().encode_request_signed(b"s");
        assert!(request_authenticator_ok(&req, b"s"));
        assert_eq!(message_authenticator_ok(&req, &[0; 16], b"s"), Some(true));
        assert_eq!(message_authenticator_ok(&req, &[0; 16], b"other"), Some(false));
        let req_auth: [u8; 16] = req[4..20].try_into().unwrap();
        let ack = Packet {
            code: DISCONNECT_ACK,
            identifier: 7,
            authenticator: [0; 16],
            attributes: vec![],
        };
        let signed = ack.encode_response_signed(&req_auth, b"s");
        assert!(response_authenticator_ok(&signed, &req_auth, b"s"));
        assert_eq!(message_authenticator_ok(&signed, &req_auth, b"s"), Some(true));
        assert_eq!(message_authenticator_ok(&signed, &[9; 16], b"s"), Some(false));
        // One flipped bit of the MAC, or none at all.
        let mut bad = signed.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        assert_eq!(message_authenticator_ok(&bad, &req_auth, b"s"), Some(false));
        assert_eq!(
            message_authenticator_ok(&ack.encode_response(&req_auth, b"s"), &req_auth, b"s"),
            None
        );
        assert_eq!(message_authenticator_ok(&[1, 2, 3], &req_auth, b"s"), None);
    }

    #[test]
    fn malformed_inputs_are_errors() {
        assert_eq!(Packet::decode(&[4, 1, 0]), Err(PacketError::Truncated(3)));
        let mut p = sample().encode_request(b"s");
        p[3] = 200; // length beyond datagram
        assert!(matches!(Packet::decode(&p), Err(PacketError::BadLength { .. })));
        let mut p = sample().encode_request(b"s");
        p[21] = 1; // first attribute length 1
        assert!(matches!(Packet::decode(&p), Err(PacketError::BadAttribute { .. })));
        let mut p = sample().encode_request(b"s");
        p[21] = 250; // runs past the end
        assert!(matches!(Packet::decode(&p), Err(PacketError::BadAttribute { .. })));
        let huge = vec![0u8; 70_000];
        assert!(Packet::decode(&huge).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Random bytes never panic the decoder.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            // The view and the owned decoder accept exactly the same bytes,
            // and yield the same attributes.
            match (Packet::decode(&bytes), PacketView::decode(&bytes)) {
                (Ok(owned), Ok(view)) => {
                    let borrowed: Vec<(u8, Vec<u8>)> = view.attributes().map(|(t, v)| (t, v.to_vec())).collect();
                    prop_assert_eq!(borrowed, owned.attributes);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "decoders disagree: {:?} / {:?}", a, b),
            }
            let _ = request_authenticator_ok(&bytes, b"x");
        }

        /// Mutations of a valid packet decode or fail cleanly; if they
        /// decode, re-encoding keeps every attribute.
        #[test]
        fn mutated_valid_packets(flips in proptest::collection::vec((0usize..64, any::<u8>()), 1..6), cut in 0usize..80) {
            let mut bytes = sample().encode_request(b"s");
            for (i, v) in flips {
                let n = bytes.len();
                bytes[i % n] = v;
            }
            bytes.truncate(bytes.len().min(cut.max(1) + 20));
            if let Ok(p) = Packet::decode(&bytes) {
                let view = PacketView::decode(&bytes).unwrap();
                prop_assert_eq!(view.to_packet(), p.clone());
                let again = Packet::decode(&p.encode_request(b"s")).unwrap();
                prop_assert_eq!(again.attributes, p.attributes);
            }
        }
    }
}
