//! The fleet's two key-value buckets, created as plain JetStream streams.
//!
//! A KV bucket is a stream named `KV_<bucket>` over `$KV.<bucket>.>` that
//! keeps one message per subject. async-nats' `create_key_value` first
//! asks for the account info, whose answer from nats-server 2.9 (Debian
//! 12) it cannot parse; creating the stream itself with the settings KV
//! clients expect works on 2.9 and later alike (decision in docs/fleet.md).

use async_nats::jetstream::{self, kv, stream};

use crate::{FleetError, FleetNames};

/// The opened buckets.
#[derive(Debug, Clone)]
pub struct Buckets {
    /// Live connections.
    pub connections: kv::Store,
    /// Node heartbeats.
    pub nodes: kv::Store,
}

fn kv_stream(bucket: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("openrras fleet".into()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    }
}

/// Creates both buckets if they are missing (a node does this), then opens
/// them. An existing bucket is used as it is: its replica count is the
/// operator's (raise it with `nats stream edit`).
pub async fn ensure(js: &jetstream::Context, names: &FleetNames, replicas: usize) -> Result<Buckets, FleetError> {
    for bucket in [&names.connections, &names.nodes] {
        js.get_or_create_stream(kv_stream(bucket, replicas.max(1)))
            .await
            .map_err(|e| FleetError::JetStream(format!("creating bucket {bucket}: {e}")))?;
    }
    open(js, names).await
}

/// Opens both buckets (a reader does this; it needs no right to create).
pub async fn open(js: &jetstream::Context, names: &FleetNames) -> Result<Buckets, FleetError> {
    let get = |bucket: String| async move { js.get_key_value(&bucket).await.map_err(|e| opening_error(bucket, e)) };
    Ok(Buckets {
        connections: get(names.connections.clone()).await?,
        nodes: get(names.nodes.clone()).await?,
    })
}

/// Messages in the connections bucket (live keys plus delete markers):
/// how long its listings may take to start, how big a view's table is.
pub async fn connection_messages(js: &jetstream::Context, names: &FleetNames) -> Result<u64, FleetError> {
    let bucket = &names.connections;
    let stream = js
        .get_stream(format!("KV_{bucket}"))
        .await
        .map_err(|e| opening_error(bucket.clone(), e))?;
    Ok(stream.cached_info().state.messages)
}

fn opening_error(bucket: String, e: impl std::fmt::Display) -> FleetError {
    if e.to_string().contains("stream not found") {
        FleetError::NoBucket(bucket)
    } else {
        FleetError::js(format!("opening bucket {bucket}: {e}"))
    }
}
