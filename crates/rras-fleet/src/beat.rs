//! `NodeBeat`: what a node says about itself every few seconds, into the
//! nodes bucket. A reader calls a node stale when its last beat is older
//! than [`NodeBeat::stale_after`]; its connections stay in the view,
//! marked stale — they may well still be up, the node just cannot say.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// Largest heartbeat accepted (a hostile or broken value is refused).
pub const MAX_BEAT_BYTES: usize = 4096;

/// One heartbeat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeBeat {
    /// The node's persisted id (the key).
    pub node: String,
    /// Its display name (`[fleet] name`, or the host name).
    pub name: String,
    /// rrasd's version.
    pub version: String,
    /// Live connections in its table.
    pub connections: u64,
    /// Its change feed's newest revision.
    pub revision: u64,
    /// The newest revision whose changes NATS has acknowledged.
    pub published: u64,
    /// `synced` (publishing from the feed) or `reconciling`.
    pub state: String,
    /// When the beat was sent (ms since 1970, the node's clock).
    pub at_ms: u64,
    /// Milliseconds between beats.
    pub interval_ms: u64,
    /// Whether it takes fleet disconnect requests.
    pub disconnect: bool,
}

impl NodeBeat {
    /// Changes the node has made durable but NATS does not have yet.
    pub fn lag(&self) -> u64 {
        self.revision.saturating_sub(self.published)
    }

    /// A node is stale when three beats in a row are missing (at least 5 s).
    pub fn stale_after(&self) -> Duration {
        Duration::from_millis(self.interval_ms.saturating_mul(3).max(5000))
    }

    /// Whether the beat is too old at `now` (clocks of node and reader are
    /// assumed to agree within a second or so, as NTP keeps them).
    pub fn is_stale(&self, now: SystemTime) -> bool {
        let now_ms = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        now_ms.saturating_sub(self.at_ms) > self.stale_after().as_millis() as u64
    }

    /// When it was sent (None for a time no clock can hold; such a beat
    /// is refused by [`NodeBeat::from_json`]).
    pub fn at(&self) -> Option<SystemTime> {
        UNIX_EPOCH.checked_add(Duration::from_millis(self.at_ms))
    }

    /// Reads a beat from the bucket; anything malformed or oversized is an
    /// error (the bucket is shared, its contents untrusted).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_BEAT_BYTES {
            return Err(format!("heartbeat of {} bytes", bytes.len()));
        }
        let beat: NodeBeat = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if !crate::names::is_node_id(&beat.node) {
            return Err(format!("bad node id {:?}", beat.node));
        }
        if beat.at().is_none() {
            return Err(format!("time {} ms out of range", beat.at_ms));
        }
        Ok(beat)
    }

    /// The milliseconds-since-1970 of `t`.
    pub fn millis(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staleness_lag_and_hostile_values() {
        let now = SystemTime::now();
        let beat = NodeBeat {
            node: "n1".into(),
            name: "vpn-a".into(),
            version: "0.1.0".into(),
            connections: 3,
            revision: 10,
            published: 7,
            state: "synced".into(),
            at_ms: NodeBeat::millis(now),
            interval_ms: 2000,
            disconnect: true,
        };
        assert_eq!(beat.lag(), 3);
        assert!(!beat.is_stale(now + Duration::from_secs(5)));
        assert!(beat.is_stale(now + Duration::from_secs(7)));
        let json = serde_json::to_vec(&beat).unwrap();
        assert_eq!(NodeBeat::from_json(&json).unwrap(), beat);
        assert!(NodeBeat::from_json(b"{").is_err());
        assert!(NodeBeat::from_json(&vec![b' '; MAX_BEAT_BYTES + 1]).is_err());
        let bad = serde_json::to_vec(&NodeBeat {
            node: "a.b".into(),
            ..beat.clone()
        })
        .unwrap();
        assert!(NodeBeat::from_json(&bad).unwrap_err().contains("bad node id"));
        let far = serde_json::to_vec(&NodeBeat {
            at_ms: u64::MAX,
            ..beat
        })
        .unwrap();
        match UNIX_EPOCH.checked_add(Duration::from_millis(u64::MAX)) {
            // This platform's clock can hold it: accepted, and it is not stale.
            Some(_) => assert!(!NodeBeat::from_json(&far).unwrap().is_stale(now)),
            None => assert!(NodeBeat::from_json(&far).unwrap_err().contains("out of range")),
        }
    }
}
