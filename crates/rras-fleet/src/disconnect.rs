//! Fleet-wide disconnect: a request to the owning node over NATS
//! request/reply. The node decides (its `[fleet] disconnect` setting), hangs
//! up through its own engine, and audits the call with the caller's name
//! as `fleet:<caller>`. Who may send the request at all is NATS's
//! decision: only users allowed to publish to `rras.fleet.*.disconnect`
//! (docs/fleet.md has the permissions).

use std::time::Duration;

use rras_core::Win32Error;
use serde::{Deserialize, Serialize};

use crate::{FleetError, FleetNames};

/// Largest request a node reads.
pub const MAX_REQUEST_BYTES: usize = 1024;
/// How long a caller waits for the node (it asks its engine, which may
/// wait for a NAS).
pub const TIMEOUT: Duration = Duration::from_secs(15);

/// What the caller asks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisconnectRequest {
    /// The connection handle on that node.
    pub handle: u32,
    /// Who asks (for the node's audit trail): the operator's name.
    pub caller: String,
}

/// What the node answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisconnectReply {
    /// Win32 status (0: hung up).
    pub status: u32,
}

impl DisconnectRequest {
    /// Reads a request; malformed, oversized, or an unprintable caller name
    /// is an error (anyone allowed on the subject could have sent it).
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_REQUEST_BYTES {
            return Err(format!("request of {} bytes", bytes.len()));
        }
        let r: DisconnectRequest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if r.caller.is_empty() || r.caller.len() > 128 || r.caller.chars().any(char::is_control) {
            return Err("caller must be 1–128 printable characters".into());
        }
        Ok(r)
    }
}

/// Asks `node` to hang up `handle`, on behalf of `caller`.
pub async fn disconnect(
    client: &async_nats::Client,
    names: &FleetNames,
    node: &str,
    handle: u32,
    caller: &str,
) -> Result<(), FleetError> {
    let request = DisconnectRequest {
        handle,
        caller: caller.to_owned(),
    };
    let payload = serde_json::to_vec(&request).map_err(|e| FleetError::Malformed(e.to_string()))?;
    let subject = names.disconnect_subject(node);
    let request = async_nats::Request::new()
        .payload(payload.into())
        .timeout(Some(TIMEOUT));
    let answer = client
        .send_request(subject, request)
        .await
        .map_err(|e| FleetError::NoAnswer {
            node: node.to_owned(),
            message: match e.kind() {
                async_nats::RequestErrorKind::NoResponders => "no responders (node down or not on NATS)".into(),
                async_nats::RequestErrorKind::TimedOut => {
                    "timed out (node busy, or this user may not send fleet requests)".into()
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
        let ok = br#"{"handle":5,"caller":"alice"}"#;
        assert_eq!(DisconnectRequest::from_json(ok).unwrap().handle, 5);
        assert!(DisconnectRequest::from_json(br#"{"handle":5,"caller":""}"#).is_err());
        assert!(DisconnectRequest::from_json(br#"{"handle":5,"caller":"a\nb"}"#).is_err());
        assert!(DisconnectRequest::from_json(br#"{"handle":-1,"caller":"a"}"#).is_err());
        assert!(DisconnectRequest::from_json(br#"{"handle":5,"caller":"a","x":1}"#).is_err());
        assert!(DisconnectRequest::from_json(&[b' '; MAX_REQUEST_BYTES + 1]).is_err());
    }
}
