//! Asking every node at once over NATS request/reply, for the requests a
//! node answers about itself (its history, its usage report): one request
//! each, all in flight together, every answer or the reason there is none.

use std::time::Duration;

use rras_core::Win32Error;
use serde::de::DeserializeOwned;

use crate::FleetError;

/// An answer that carries a Win32 status (0: the rest is the answer).
pub trait StatusReply: DeserializeOwned {
    /// The status the node answered with.
    fn status(&self) -> u32;
}

/// One node's answer, or why there is none.
#[derive(Debug)]
pub struct NodeAnswer<R> {
    /// The node id.
    pub node: String,
    /// Its answer, or the error.
    pub answer: Result<R, FleetError>,
}

/// Sends `payload(node)` to `subject(node)` for every node of `nodes` at
/// once, waiting `timeout` for each; the answers in `nodes`' order. `what`
/// names the request in errors ("history", "usage").
pub async fn ask_all<R: StatusReply>(
    client: &async_nats::Client,
    nodes: &[String],
    subject: impl Fn(&str) -> String,
    payload: impl Fn(&str) -> Result<Vec<u8>, FleetError>,
    timeout: Duration,
    what: &str,
) -> Vec<NodeAnswer<R>> {
    let asks = nodes.iter().map(|node| {
        let subject = subject(node);
        let payload = payload(node);
        async move {
            let payload = match payload {
                Ok(p) => p,
                Err(e) => {
                    return NodeAnswer {
                        node: node.clone(),
                        answer: Err(e),
                    }
                }
            };
            let request = async_nats::Request::new()
                .payload(payload.into())
                .timeout(Some(timeout));
            let answer = match client.send_request(subject, request).await {
                Err(e) => Err(FleetError::NoAnswer {
                    node: node.clone(),
                    message: match e.kind() {
                        async_nats::RequestErrorKind::NoResponders => "no responders (node down or not on NATS)".into(),
                        async_nats::RequestErrorKind::TimedOut => {
                            format!("timed out (node busy, or this NATS user may not ask for {what})")
                        }
                        _ => e.to_string(),
                    },
                }),
                Ok(message) => match serde_json::from_slice::<R>(&message.payload) {
                    Err(e) => Err(FleetError::Malformed(format!("{what} from {node}: {e}"))),
                    Ok(reply) if reply.status() == 0 => Ok(reply),
                    Ok(reply) => Err(FleetError::Refused {
                        node: node.clone(),
                        error: Win32Error::from_code(reply.status()).unwrap_or(Win32Error::RpcCallFailed),
                    }),
                },
            };
            NodeAnswer {
                node: node.clone(),
                answer,
            }
        }
    });
    futures_util::future::join_all(asks).await
}
