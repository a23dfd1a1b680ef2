//! `AuditRecord`: one entry of the audit trail — every state-changing admin
//! call and every denied call, with who, what, on what, and the outcome.

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// One audited call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// When the call was answered.
    pub at: SystemTime,
    /// The caller's identity (`uid:0`, `cert:admin.example`, `token:ci` …).
    pub caller: String,
    /// The RPC method.
    pub method: String,
    /// What it acted on (a connection handle), empty when nothing.
    pub target: String,
    /// The Win32 status of the reply.
    pub result: u32,
}
