//! Fleet-wide disconnect: a request to the owning node over NATS
//! request/reply. The node decides (its `[fleet] disconnect` setting), hangs
//! up through its own engine, and audits the call as `fleet:<operator>`.
//!
//! The operator is named by the subject, `rras.fleet.<node>.disconnect.<operator>`,
//! never by the request: NATS authenticated the sender, and its
//! permissions let an operator's user publish only on subjects ending in
//! its own name, so the name the node reads is one NATS proved. A name in
//! the body would be whatever the sender typed (docs/fleet.md, "Fleet
//! identities", has the choice and the permissions).

use std::time::Duration;

use rras_core::Win32Error;
use serde::{Deserialize, Serialize};

use crate::options::Connects;
use crate::{FleetError, FleetNames};

/// Largest request a node reads.
pub const MAX_REQUEST_BYTES: usize = 1024;
/// How long a caller waits for the node (it asks its engine, which may
/// wait for a NAS).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What the operator asks. Who asks is the subject's business.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// The connection handle on that node.
    pub handle: u32,
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectReply {
    /// Win32 status (0: hung up).
    pub status: u32,
}

impl DisconnectRequest {
    /// Reads a request; malformed or oversized is an error (anyone allowed
    /// on the subject could have sent it). A `caller` field, which the
    /// format had before operators were named by the subject, is refused
    /// rather than ignored: its sender expects it to be believed.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(format!("request of {} bytes", bytes.len()));
        }
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }
}

/// Asks `node` to hang up `handle`, as `operator` (the name this NATS user
/// is allowed to send as). With the client's `connects`, a request the
/// server refuses this user fails at once, naming the refusal, instead of
/// after [`TIMEOUT`].
pub async fn disconnect(
    client: &async_nats::Client,
    connects: Option<&Connects>,
    names: &FleetNames,
    node: &str,
    handle: u32,
    operator: &str,
) -> Result<(), FleetError> {
    if !crate::names::is_operator_name(operator) {
        return Err(FleetError::Options(format!(
            "operator name {operator:?}: 1–64 of A-Z a-z 0-9 - _ (it is a NATS subject token)"
        )));
    }
    let payload =
        serde_json::to_vec(&DisconnectRequest { handle }).map_err(|e| FleetError::Malformed(e.to_string()))?;
    let subject = names.disconnect_subject(node, operator);
    let request = async_nats::Request::new()
        .payload(payload.into())
        .timeout(Some(TIMEOUT));
    let refused = async {
        match connects {
            Some(c) => c.refusal_of(&subject).await,
            None => std::future::pending().await,
        }
    };
    let asked = tokio::select! {
        answer = client.send_request(subject.clone(), request) => answer,
        refusal = refused => return Err(FleetError::Forbidden(refusal)),
    };
    let answer = asked.map_err(|e| FleetError::NoAnswer {
        node: node.to_owned(),
        message: match e.kind() {
            async_nats::RequestErrorKind::NoResponders => "no responders (node down or not on NATS)".into(),
            async_nats::RequestErrorKind::TimedOut => {
                "timed out (node busy, or this user may not send fleet requests as this operator)".into()
            }
            _ => e.to_string(),
        },
    })?;
    let reply: DisconnectReply = serde_json::from_slice(&answer.payload)
        .map_err(|e| FleetError::Malformed(format!("reply from {node}: {e}")))?;
    match Win32Error::from_code(reply.status) {
        Some(Win32Error::NoError) => Ok(()),
        Some(error) => Err(FleetError::Refused {
            node: node.to_owned(),
            error,
        }),
        None => Err(FleetError::Malformed(format!("status {} from {node}", reply.status))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_checked() {
        let ok = br#"{"handle":5}"#;
        assert_eq!(DisconnectRequest::from_json(ok).unwrap().handle, 5);
        // A claimed caller is refused, not believed and not ignored.
        assert!(DisconnectRequest::from_json(br#"{"handle":5,"caller":"alice"}"#).is_err());
        assert!(DisconnectRequest::from_json(br#"{"handle":-1}"#).is_err());
        assert!(DisconnectRequest::from_json(br#"{"handle":5,"x":1}"#).is_err());
        assert!(DisconnectRequest::from_json(&[b' '; MAX_REQUEST_BYTES + 1]).is_err());
    }
}
