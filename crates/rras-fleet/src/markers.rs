//! Purging old delete markers for the whole fleet: the janitor's job when
//! nodes have their own NATS users.
//!
//! A node may purge its own markers only if its NATS user may send
//! `$JS.API.STREAM.PURGE.KV_rras_connections`, and that request names the
//! subject to purge in its body, which NATS permissions cannot look at:
//! a user allowed to purge its own keys may purge every node's. So with
//! per-node credentials no node gets the right (`[fleet] purge_markers =
//! false`), and one janitor user, run from a timer by `rasctl fleet
//! purge-markers`, purges every marker older than the keep time.
//!
//! Each purge is bounded by the marker's own stream sequence: it removes
//! that key's messages up to and including the marker, never a value that
//! was stored after the listing.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;

use crate::{FleetError, FleetNames};

/// What a purge run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MarkerPurge {
    /// Keys listed (live values and markers).
    pub keys: u64,
    /// Markers younger than the keep time, left for a later run.
    pub kept: u64,
    /// Markers purged.
    pub purged: u64,
}

/// A key's last message as the listing saw it.
struct Last {
    sequence: u64,
    at: SystemTime,
    marker: bool,
}

/// When the server stored a message. A time no clock can hold counts as
/// now: a marker is then kept for the full keep time, not purged early.
pub fn stored_at(info: &jetstream::message::Info<'_>) -> SystemTime {
    u64::try_from(info.published.unix_timestamp())
        .ok()
        .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
        .unwrap_or_else(SystemTime::now)
}

/// Whether a bucket message is a delete or purge marker (`KV-Operation`).
pub fn is_marker(message: &async_nats::Message) -> bool {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get("KV-Operation"))
        .is_some_and(|v| matches!(v.as_str(), "DEL" | "PURGE"))
}

/// Purges every delete marker in the connections bucket older than
/// `older_than` (all nodes').
pub async fn purge_markers(
    js: &jetstream::Context,
    names: &FleetNames,
    older_than: Duration,
) -> Result<MarkerPurge, FleetError> {
    let size = crate::buckets::connection_messages(js, names).await?;
    let mut js = js.clone();
    js.set_timeout(crate::view::setup_timeout(size));
    let stream = js
        .get_stream(format!("KV_{}", names.connections))
        .await
        .map_err(FleetError::js)?;
    let consumer = stream
        .create_consumer(consumer::pull::Config {
            filter_subject: format!("$KV.{}.>", names.connections),
            deliver_policy: consumer::DeliverPolicy::All,
            ack_policy: consumer::AckPolicy::None,
            headers_only: true,
            inactive_threshold: Duration::from_secs(30),
            memory_storage: true,
            ..Default::default()
        })
        .await
        .map_err(FleetError::js)?;
    let mut last: HashMap<String, Last> = HashMap::new();
    if consumer.cached_info().num_pending > 0 {
        let mut messages = consumer.messages().await.map_err(FleetError::js)?;
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), messages.next())
                .await
                .map_err(|_| FleetError::js("listing the bucket timed out"))?
                .ok_or_else(|| FleetError::js("listing the bucket ended early"))?
                .map_err(FleetError::js)?;
            let info = message.info().map_err(FleetError::js)?;
            let (sequence, pending) = (info.stream_sequence, info.pending);
            let at = stored_at(&info);
            let marker = is_marker(&message);
            // A bucket someone set to keep history: the later message wins.
            last.insert(message.subject.to_string(), Last { sequence, at, marker });
            if pending == 0 {
                break;
            }
        }
    }
    let now = SystemTime::now();
    let mut report = MarkerPurge {
        keys: last.len() as u64,
        ..Default::default()
    };
    for (subject, key) in &last {
        if !key.marker {
            continue;
        }
        if now.duration_since(key.at).unwrap_or_default() < older_than {
            report.kept += 1;
            continue;
        }
        stream
            .purge()
            .filter(subject.as_str())
            .sequence(key.sequence.saturating_add(1))
            .await
            .map_err(|e| FleetError::js(format!("purging {subject}: {e}")))?;
        report.purged += 1;
    }
    Ok(report)
}
