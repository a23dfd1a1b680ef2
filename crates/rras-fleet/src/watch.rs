//! `BucketWatch`: every message of a bucket from a revision on, read from
//! the NATS server its consumer lives on.
//!
//! nats-server 2.9 puts a reader's ephemeral consumer on a random replica
//! of the bucket's stream. When that is not the server the reader's client
//! is connected to, every message crosses a route between the servers
//! first: measured at 300k messages, 0.71–0.80 s of delivery and 1.06–1.20 s
//! of the servers' CPU instead of 0.48–0.51 s and 0.60–0.66 s
//! (docs/benchmarks-notebook.md, "consumer placement"). Re-creating the consumer
//! until it lands locally costs more than it saves (150–200 ms per try on a
//! large stream). So the consumer stays where it landed, and the watch
//! subscribes to its deliver subject — an inbox any connection of the same
//! user may take — over a second connection, to that server
//! ([`ServerClients`]). The ordered-consumer protocol (gaps, heartbeats,
//! flow control, re-creation) is async-nats' own, run on that connection.

use std::pin::Pin;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use async_nats::jetstream::consumer::push::{Ordered, OrderedConfig};
use async_nats::jetstream::consumer::{Consumer, DeliverPolicy, ReplayPolicy};
use async_nats::jetstream::context::traits::TimeoutProvider;
use async_nats::jetstream::{self, kv};
use futures_util::StreamExt;
use hashbrown::HashMap;

use crate::options::Reconnect;
use crate::{FleetError, FleetOptions};

/// A bucket holding fewer messages than this is read over the reader's own
/// connection wherever its consumer is: the route costs ~1 µs a message,
/// less than connecting to the other servers.
pub const READ_WHERE_PLACED_FROM: u64 = 20_000;

/// How long the second connections may take to connect, together: the
/// first view of a large bucket waits for them.
const CONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(2);

/// One connection per NATS server of the cluster, made on first need, for
/// reading a consumer on the server it lives on.
pub struct ServerClients {
    options: FleetOptions,
    name: String,
    clients: tokio::sync::OnceCell<HashMap<String, async_nats::Client>>,
    /// Buckets this small are read over the reader's own connection.
    min_messages: u64,
    /// Watches read over one of these connections so far.
    placed: AtomicU64,
}

impl std::fmt::Debug for ServerClients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerClients")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ServerClients {
    /// Connections made with `options` (the reader's own: the same user,
    /// TLS and credentials), named `name` in the servers' monitoring.
    pub fn new(options: FleetOptions, name: &str) -> Self {
        ServerClients {
            options,
            name: name.to_owned(),
            clients: tokio::sync::OnceCell::new(),
            min_messages: READ_WHERE_PLACED_FROM,
            placed: AtomicU64::new(0),
        }
    }

    /// Reads buckets of at least `messages` where their consumer is
    /// (default [`READ_WHERE_PLACED_FROM`]; tests use 0).
    pub fn min_messages(mut self, messages: u64) -> Self {
        self.min_messages = messages;
        self
    }

    /// Whether a bucket of `messages` is read where its consumer is.
    pub(crate) fn wanted_for(&self, messages: u64) -> bool {
        messages >= self.min_messages
    }

    /// How many watches were read over a connection of these so far (the
    /// others landed on the reader's own server, or could not be reached).
    pub fn placed_reads(&self) -> u64 {
        self.placed.load(Ordering::Relaxed)
    }

    /// The connection to the server named `server`, if one can be made.
    /// The first call connects to every configured URL and every URL the
    /// cluster advertised to `seed`, once. A server that could not be
    /// reached then is read over the route from then on; a connection that
    /// drops reconnects to its own server (never another) and is used again
    /// once it is back.
    async fn on(&self, server: &str, seed: &async_nats::Client) -> Option<async_nats::Client> {
        let clients = self
            .clients
            .get_or_init(|| async {
                let mut urls = self.options.servers().unwrap_or_default();
                for advertised in seed.server_info().connect_urls {
                    if !urls.iter().any(|u| u.ends_with(&advertised)) {
                        urls.push(advertised);
                    }
                }
                let tries = urls.iter().map(|url| async move {
                    let one = FleetOptions {
                        url: Some(url.clone()),
                        ..self.options.clone()
                    };
                    // A server that does not answer soon is read over the route.
                    let connecting = one.connect(&self.name, Reconnect::Pinned);
                    match tokio::time::timeout(CONNECT_FOR, connecting)
                        .await
                        .unwrap_or_else(|_| Err(FleetError::js("timed out")))
                    {
                        Ok(c) => Some(c),
                        Err(e) => {
                            tracing::debug!("fleet reader: no second connection to {url}: {e}");
                            None
                        }
                    }
                });
                let mut by_name = HashMap::new();
                for client in futures_util::future::join_all(tries).await.into_iter().flatten() {
                    // Two URLs of one server: the first connection is kept,
                    // the other closes when dropped.
                    by_name.entry(client.server_info().server_name).or_insert(client);
                }
                by_name
            })
            .await;
        clients
            .get(server)
            .filter(|c| c.connection_state() == async_nats::connection::State::Connected)
            .cloned()
    }
}

/// The entries of one bucket from a revision on, in stream order.
pub(crate) struct BucketWatch {
    messages: Ordered,
    /// The second connection it is read over, if it is: when that one
    /// drops, the watch ends (to be opened again through the reader's own
    /// connection) instead of waiting for a server that may be gone.
    read_over: Option<async_nats::Client>,
    prefix: String,
    seen_current: bool,
}

impl BucketWatch {
    /// Creates the consumer through `js` (whose timeout every later call
    /// keeps) and reads it from the server it landed on when `servers` can
    /// reach it (see the module).
    pub(crate) async fn open(
        js: &jetstream::Context,
        store: &kv::Store,
        from_revision: u64,
        servers: Option<&ServerClients>,
    ) -> Result<Self, FleetError> {
        let client = js.client();
        let config = OrderedConfig {
            deliver_subject: client.new_inbox(),
            description: Some("openrras fleet reader".to_owned()),
            filter_subject: format!("{}>", store.prefix),
            replay_policy: ReplayPolicy::Instant,
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: from_revision.max(1),
            },
            ..Default::default()
        };
        let consumer = store
            .stream
            .create_consumer(config.clone())
            .await
            .map_err(FleetError::js)?;
        let seen_current = consumer.cached_info().num_pending == 0;
        let leader = consumer
            .cached_info()
            .cluster
            .as_ref()
            .and_then(|c| c.leader.clone())
            .unwrap_or_default();
        let mine = client.server_info().server_name;
        let there = match servers {
            Some(servers) if !leader.is_empty() && leader != mine => servers.on(&leader, &client).await,
            _ => None,
        };
        let (consumer, read_over) = match (servers, there) {
            (Some(servers), Some(there)) => {
                tracing::debug!("fleet reader: consumer on {leader}, read there (connected to {mine})");
                servers.placed.fetch_add(1, Ordering::Relaxed);
                let info = consumer.cached_info().clone();
                let mut context = jetstream::new(there.clone());
                context.set_timeout(js.timeout());
                (Consumer::new(config, info, context), Some(there))
            }
            _ => {
                tracing::debug!(
                    "fleet reader: consumer on {leader:?}, read over the reader's own connection (on {mine})"
                );
                (consumer, None)
            }
        };
        Ok(BucketWatch {
            messages: consumer.messages().await.map_err(FleetError::js)?,
            read_over,
            prefix: store.prefix.clone(),
            seen_current,
        })
    }

    /// One delivered message as a bucket entry: the key is the subject
    /// after the bucket's prefix, the operation the `KV-Operation` header.
    fn entry(&mut self, message: &async_nats::jetstream::Message) -> Result<kv::Entry, String> {
        let info = message
            .info()
            .map_err(|e| format!("a message without JetStream metadata: {e}"))?;
        let key = message
            .subject
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(|| format!("a message on {} outside the bucket", message.subject))?
            .to_owned();
        let operation = match message.headers.as_ref().and_then(|h| h.get("KV-Operation")) {
            Some(op) => kv::Operation::from_str(op.as_str()).map_err(|e| format!("key {key}: {e}"))?,
            None => kv::Operation::Put,
        };
        if info.pending == 0 {
            self.seen_current = true;
        }
        Ok(kv::Entry {
            // Not read by the reader, and an allocation per message.
            bucket: String::new(),
            key,
            value: message.payload.clone(),
            revision: info.stream_sequence,
            delta: info.pending,
            created: info.published,
            operation,
            seen_current: self.seen_current,
        })
    }
}

impl futures_util::Stream for BucketWatch {
    type Item = Result<kv::Entry, String>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.messages.poll_next_unpin(cx) {
            Poll::Ready(Some(Ok(message))) => Poll::Ready(Some(self.entry(&message))),
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(e.to_string()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match &self.read_over {
                // Looked at whenever the reader wakes (a delivery on the
                // other bucket, its checks, the caller's own timeouts).
                Some(there) if there.connection_state() != async_nats::connection::State::Connected => {
                    Poll::Ready(Some(Err("the server this watch was read from went away".to_owned())))
                }
                _ => Poll::Pending,
            },
        }
    }
}
