//! `ClientError`: every failure as the Win32 code a Windows caller expects.

use rras_core::Win32Error;

/// Why a call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server answered with this Win32 status.
    #[error("{}", describe(*.0))]
    Status(u32),
    /// The server cannot be reached (absent socket, refused, dead daemon).
    #[error("rrasd is not reachable: {0}")]
    Unavailable(String),
    /// The socket exists but we may not connect to it.
    #[error("access to the rrasd socket is denied: {0}")]
    Denied(String),
    /// The transport broke mid-call.
    #[error("transport error: {0}")]
    Transport(String),
    /// The reply did not make sense.
    #[error("protocol error: {0}")]
    Protocol(String),
}

fn describe(code: u32) -> String {
    match Win32Error::from_code(code) {
        Some(e) => e.to_string(),
        None => format!("error {code}"),
    }
}

impl ClientError {
    /// The Win32 code for this failure.
    pub fn code(&self) -> u32 {
        match self {
            ClientError::Status(c) => *c,
            ClientError::Unavailable(_) => Win32Error::RpcServerUnavailable.code(),
            ClientError::Denied(_) => Win32Error::AccessDenied.code(),
            ClientError::Transport(_) => Win32Error::RpcCallFailed.code(),
            ClientError::Protocol(_) => Win32Error::RpcCallFailed.code(),
        }
    }

    /// A failed connect to the Unix socket at `path`, with the socket named
    /// and the likely fix.
    pub(crate) fn from_connect(path: &std::path::Path, e: std::io::Error) -> Self {
        let at = path.display();
        match e.kind() {
            std::io::ErrorKind::PermissionDenied => ClientError::Denied(format!(
                "{at}: {e} (run as root, or as a member of the daemon's admin_group/reader_group)"
            )),
            std::io::ErrorKind::NotFound => ClientError::Unavailable(format!(
                "{at}: no such socket (is rrasd running? `systemctl status rrasd`; or pass --server)"
            )),
            std::io::ErrorKind::ConnectionRefused => ClientError::Unavailable(format!(
                "{at}: connection refused (rrasd is not running; a stale socket file is left)"
            )),
            _ => ClientError::Unavailable(format!("{at}: {e}")),
        }
    }
}

impl From<tonic::Status> for ClientError {
    fn from(s: tonic::Status) -> Self {
        match s.code() {
            // The server does not know the method.
            tonic::Code::Unimplemented => ClientError::Status(Win32Error::ProcNotFound.code()),
            tonic::Code::Unavailable => ClientError::Unavailable(s.message().to_owned()),
            tonic::Code::ResourceExhausted => ClientError::Status(Win32Error::NotEnoughMemory.code()),
            _ => ClientError::Transport(format!("{:?}: {}", s.code(), s.message())),
        }
    }
}
