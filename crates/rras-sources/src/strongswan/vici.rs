//! VICI, strongSwan's control protocol (charon's `vici` plugin), as pure
//! functions over bytes plus a small client on its Unix socket.
//!
//! Transport: every packet is a 32-bit big-endian length, then a packet
//! type byte, then (for named types) a 1-byte length and a name, then a
//! message. A message is a flat run of elements that nest:
//! section start (name) / section end, key = value (name, 16-bit length,
//! bytes), list start (name) / list item (16-bit length, bytes) / list end.
//!
//! Every length is checked against what is left; nesting is capped; a
//! packet is capped before it is read — charon is an engine, and engines are
//! untrusted.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;

use rras_source::control::ControlError;

/// Packet types.
pub mod packet_type {
    /// A named command.
    pub const CMD_REQUEST: u8 = 0;
    /// The answer to a command.
    pub const CMD_RESPONSE: u8 = 1;
    /// The command is not known.
    pub const CMD_UNKNOWN: u8 = 2;
    /// Subscribe to a named event.
    pub const EVENT_REGISTER: u8 = 3;
    /// Unsubscribe.
    pub const EVENT_UNREGISTER: u8 = 4;
    /// (Un)subscription done.
    pub const EVENT_CONFIRM: u8 = 5;
    /// The event is not known.
    pub const EVENT_UNKNOWN: u8 = 6;
    /// A named event.
    pub const EVENT: u8 = 7;
}

const SECTION_START: u8 = 1;
const SECTION_END: u8 = 2;
const KEY_VALUE: u8 = 3;
const LIST_START: u8 = 4;
const LIST_ITEM: u8 = 5;
const LIST_END: u8 = 6;

/// Deepest nesting accepted (charon's own messages nest 4–5 levels).
const MAX_DEPTH: usize = 32;
/// Largest packet accepted (a list-sa of one IKE SA is a few KiB).
pub const MAX_PACKET: usize = 16 << 20;

/// A value in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// `key = value` (bytes, usually text).
    Str(Vec<u8>),
    /// A nested section.
    Section(Section),
    /// A list of values.
    List(Vec<Vec<u8>>),
}

/// A section: named values in wire order (names may repeat).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section(pub Vec<(String, Value)>);

impl Section {
    /// The first value named `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// A `key = value` as text (lossy UTF-8).
    pub fn str(&self, key: &str) -> Option<String> {
        match self.get(key)? {
            Value::Str(v) => Some(String::from_utf8_lossy(v).into_owned()),
            _ => None,
        }
    }

    /// A `key = value` as a number.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.str(key)?.trim().parse().ok()
    }

    /// A nested section.
    pub fn section(&self, key: &str) -> Option<&Section> {
        match self.get(key)? {
            Value::Section(s) => Some(s),
            _ => None,
        }
    }

    /// A list, as text items.
    pub fn list(&self, key: &str) -> Vec<String> {
        match self.get(key) {
            Some(Value::List(items)) => items.iter().map(|i| String::from_utf8_lossy(i).into_owned()).collect(),
            _ => Vec::new(),
        }
    }

    /// Adds `key = value`.
    pub fn with(mut self, key: &str, value: &str) -> Self {
        self.0.push((key.to_owned(), Value::Str(value.as_bytes().to_vec())));
        self
    }
}

/// Why bytes are not VICI.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViciError {
    /// The message ends inside an element.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// An element type that does not exist.
    #[error("unknown element type {0} at byte {1}")]
    BadElement(u8, usize),
    /// A section or list end without a start, or a start never ended.
    #[error("unbalanced sections or lists")]
    Unbalanced,
    /// Nesting deeper than 32 levels.
    #[error("nested deeper than {MAX_DEPTH}")]
    TooDeep,
    /// A name or value too long for its length field.
    #[error("{0} too long to encode")]
    TooLong(&'static str),
    /// A packet type that does not exist.
    #[error("unknown packet type {0}")]
    BadPacket(u8),
}

impl From<ViciError> for ControlError {
    fn from(e: ViciError) -> Self {
        ControlError::Malformed(format!("VICI: {e}"))
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, ViciError> {
        let b = *self.bytes.get(self.at).ok_or(ViciError::Truncated(self.at))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ViciError> {
        let end = self.at.checked_add(n).ok_or(ViciError::Truncated(self.at))?;
        let out = self.bytes.get(self.at..end).ok_or(ViciError::Truncated(self.at))?;
        self.at = end;
        Ok(out)
    }

    fn name(&mut self) -> Result<String, ViciError> {
        let n = usize::from(self.byte()?);
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    fn value(&mut self) -> Result<Vec<u8>, ViciError> {
        let hi = self.byte()?;
        let lo = self.byte()?;
        Ok(self.take(usize::from(u16::from_be_bytes([hi, lo])))?.to_vec())
    }

    fn done(&self) -> bool {
        self.at >= self.bytes.len()
    }
}

/// Decodes a message (the part after the packet header).
pub fn decode_message(bytes: &[u8]) -> Result<Section, ViciError> {
    let mut r = Reader { bytes, at: 0 };
    // Open sections: (name, entries); the bottom one is the message.
    let mut stack: Vec<(String, Vec<(String, Value)>)> = vec![(String::new(), Vec::new())];
    while !r.done() {
        let at = r.at;
        match r.byte()? {
            SECTION_START => {
                if stack.len() > MAX_DEPTH {
                    return Err(ViciError::TooDeep);
                }
                let name = r.name()?;
                stack.push((name, Vec::new()));
            }
            SECTION_END => {
                if stack.len() < 2 {
                    return Err(ViciError::Unbalanced);
                }
                let (name, entries) = stack.pop().ok_or(ViciError::Unbalanced)?;
                let parent = stack.last_mut().ok_or(ViciError::Unbalanced)?;
                parent.1.push((name, Value::Section(Section(entries))));
            }
            KEY_VALUE => {
                let name = r.name()?;
                let value = r.value()?;
                let top = stack.last_mut().ok_or(ViciError::Unbalanced)?;
                top.1.push((name, Value::Str(value)));
            }
            LIST_START => {
                let name = r.name()?;
                let mut items = Vec::new();
                loop {
                    let at = r.at;
                    match r.byte()? {
                        LIST_ITEM => items.push(r.value()?),
                        LIST_END => break,
                        other => return Err(ViciError::BadElement(other, at)),
                    }
                }
                let top = stack.last_mut().ok_or(ViciError::Unbalanced)?;
                top.1.push((name, Value::List(items)));
            }
            other => return Err(ViciError::BadElement(other, at)),
        }
    }
    match (stack.pop(), stack.is_empty()) {
        (Some((_, entries)), true) => Ok(Section(entries)),
        _ => Err(ViciError::Unbalanced),
    }
}

fn put_name(out: &mut Vec<u8>, name: &str) -> Result<(), ViciError> {
    let len = u8::try_from(name.len()).map_err(|_| ViciError::TooLong("name"))?;
    out.push(len);
    out.extend_from_slice(name.as_bytes());
    Ok(())
}

fn put_value(out: &mut Vec<u8>, value: &[u8]) -> Result<(), ViciError> {
    let len = u16::try_from(value.len()).map_err(|_| ViciError::TooLong("value"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(value);
    Ok(())
}

/// Encodes a message.
pub fn encode_message(section: &Section, out: &mut Vec<u8>) -> Result<(), ViciError> {
    for (name, value) in &section.0 {
        match value {
            Value::Str(v) => {
                out.push(KEY_VALUE);
                put_name(out, name)?;
                put_value(out, v)?;
            }
            Value::Section(s) => {
                out.push(SECTION_START);
                put_name(out, name)?;
                encode_message(s, out)?;
                out.push(SECTION_END);
            }
            Value::List(items) => {
                out.push(LIST_START);
                put_name(out, name)?;
                for item in items {
                    out.push(LIST_ITEM);
                    put_value(out, item)?;
                }
                out.push(LIST_END);
            }
        }
    }
    Ok(())
}

/// One packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// See [`packet_type`].
    pub kind: u8,
    /// The command or event name (named types only).
    pub name: String,
    /// The message (empty for types without one).
    pub message: Section,
}

fn is_named(kind: u8) -> bool {
    matches!(
        kind,
        packet_type::CMD_REQUEST | packet_type::EVENT_REGISTER | packet_type::EVENT_UNREGISTER | packet_type::EVENT
    )
}

/// Decodes a packet's payload (without the length prefix).
pub fn decode_packet(payload: &[u8]) -> Result<Packet, ViciError> {
    let mut r = Reader { bytes: payload, at: 0 };
    let kind = r.byte()?;
    if kind > packet_type::EVENT {
        return Err(ViciError::BadPacket(kind));
    }
    let name = if is_named(kind) { r.name()? } else { String::new() };
    let message = decode_message(&payload[r.at..])?;
    Ok(Packet { kind, name, message })
}

/// Encodes a packet with its length prefix.
pub fn encode_packet(packet: &Packet) -> Result<Vec<u8>, ViciError> {
    let mut payload = vec![packet.kind];
    if is_named(packet.kind) {
        put_name(&mut payload, &packet.name)?;
    }
    encode_message(&packet.message, &mut payload)?;
    let len = u32::try_from(payload.len()).map_err(|_| ViciError::TooLong("packet"))?;
    let mut out = len.to_be_bytes().to_vec();
    out.extend_from_slice(&payload);
    Ok(out)
}

/// A connection to charon's VICI socket.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects; a missing socket or nobody listening is `Gone`.
    pub async fn connect(socket: &Path) -> Result<Client, ControlError> {
        let stream = UnixStream::connect(socket).await.map_err(|e| match e.kind() {
            std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound => ControlError::Gone(e),
            _ => ControlError::Io(e),
        })?;
        Ok(Client { stream })
    }

    async fn send(&mut self, packet: &Packet) -> Result<(), ControlError> {
        let bytes = encode_packet(packet)?;
        self.stream.write_all(&bytes).await.map_err(ControlError::Io)
    }

    /// Reads one packet (capped at [`MAX_PACKET`]).
    pub async fn read(&mut self) -> Result<Packet, ControlError> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).await.map_err(ControlError::Io)?;
        let len = u32::from_be_bytes(len) as usize;
        if len > MAX_PACKET {
            return Err(ControlError::TooLarge(MAX_PACKET));
        }
        let mut payload = vec![0u8; len];
        self.stream.read_exact(&mut payload).await.map_err(ControlError::Io)?;
        Ok(decode_packet(&payload)?)
    }

    /// Subscribes to `event`.
    pub async fn register(&mut self, event: &str) -> Result<(), ControlError> {
        self.send(&Packet {
            kind: packet_type::EVENT_REGISTER,
            name: event.to_owned(),
            message: Section::default(),
        })
        .await?;
        match self.read().await? {
            p if p.kind == packet_type::EVENT_CONFIRM => Ok(()),
            p if p.kind == packet_type::EVENT_UNKNOWN => Err(ControlError::Refused(format!("unknown event {event}"))),
            p => Err(ControlError::Malformed(format!(
                "packet type {} instead of a confirmation",
                p.kind
            ))),
        }
    }

    /// Runs `command`; events that arrive before the response (a streamed
    /// command's, or subscribed ones) are returned with it.
    pub async fn call(&mut self, command: &str, args: Section) -> Result<(Vec<Packet>, Section), ControlError> {
        self.send(&Packet {
            kind: packet_type::CMD_REQUEST,
            name: command.to_owned(),
            message: args,
        })
        .await?;
        let mut events = Vec::new();
        loop {
            let p = self.read().await?;
            match p.kind {
                packet_type::CMD_RESPONSE => return Ok((events, p.message)),
                packet_type::CMD_UNKNOWN => return Err(ControlError::Refused(format!("unknown command {command}"))),
                packet_type::EVENT => {
                    if events.len() >= 1_000_000 {
                        return Err(ControlError::TooLarge(MAX_PACKET));
                    }
                    events.push(p);
                }
                other => return Err(ControlError::Malformed(format!("packet type {other} during {command}"))),
            }
        }
    }
}

/// One exchange with a time limit: connect, optionally subscribe, call.
pub async fn call(
    socket: &Path,
    stream_event: Option<&str>,
    command: &str,
    args: Section,
    timeout: Duration,
) -> Result<(Vec<Packet>, Section), ControlError> {
    let work = async {
        let mut client = Client::connect(socket).await?;
        if let Some(event) = stream_event {
            client.register(event).await?;
        }
        client.call(command, args).await
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ControlError::Timeout(timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_nesting() {
        let msg = Section(vec![
            ("a".into(), Value::Str(b"1".to_vec())),
            (
                "rw".into(),
                Value::Section(Section(vec![
                    ("remote-vips".into(), Value::List(vec![b"10.0.0.1".to_vec()])),
                    (
                        "child-sas".into(),
                        Value::Section(Section::default().with("bytes-in", "5")),
                    ),
                ])),
            ),
        ]);
        let packet = Packet {
            kind: packet_type::EVENT,
            name: "list-sa".into(),
            message: msg.clone(),
        };
        let bytes = encode_packet(&packet).unwrap();
        assert_eq!(
            u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize,
            bytes.len() - 4
        );
        let back = decode_packet(&bytes[4..]).unwrap();
        assert_eq!(back, packet);
        let rw = back.message.section("rw").unwrap();
        assert_eq!(rw.list("remote-vips"), vec!["10.0.0.1"]);
        assert_eq!(rw.section("child-sas").and_then(|c| c.u64("bytes-in")), Some(5));
    }

    #[test]
    fn hostile_bytes_are_errors() {
        assert_eq!(decode_message(&[KEY_VALUE, 5, b'a']), Err(ViciError::Truncated(2)));
        assert_eq!(decode_message(&[SECTION_END]), Err(ViciError::Unbalanced));
        assert_eq!(decode_message(&[SECTION_START, 1, b'x']), Err(ViciError::Unbalanced));
        assert!(matches!(decode_message(&[9]), Err(ViciError::BadElement(9, 0))));
        assert!(matches!(
            decode_message(&[LIST_START, 1, b'l', KEY_VALUE]),
            Err(ViciError::BadElement(..))
        ));
        let deep: Vec<u8> = std::iter::repeat_n([SECTION_START, 0], 100).flatten().collect();
        assert_eq!(decode_message(&deep), Err(ViciError::TooDeep));
        assert_eq!(decode_packet(&[42]), Err(ViciError::BadPacket(42)));
        // A value length past the end.
        assert!(matches!(
            decode_message(&[KEY_VALUE, 1, b'k', 0xff, 0xff, 1]),
            Err(ViciError::Truncated(_))
        ));
        // Too long to encode.
        let long = Section::default().with(&"k".repeat(300), "v");
        assert_eq!(encode_message(&long, &mut Vec::new()), Err(ViciError::TooLong("name")));
    }
}
