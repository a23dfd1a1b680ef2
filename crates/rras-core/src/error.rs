//! Win32 / MPR / RAS status codes: the one error vocabulary of openrras.
//!
//! Every reply of the admin RPC and every libmprapi function carries one of
//! these numbers. The discriminants are the real Windows values from
//! `mprapi.h`, `winerror.h`, `raserror.h` and `mprerror.h`; they are part of
//! the ABI and are never renumbered.

use std::fmt;

/// A Win32-style status code with its exact Windows numeric value.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Win32Error {
    /// The operation completed successfully.
    NoError = 0,
    /// The caller is not allowed to perform the operation.
    AccessDenied = 5,
    /// The handle was never issued or is already closed.
    InvalidHandle = 6,
    /// The server could not allocate what the request needs.
    NotEnoughMemory = 8,
    /// The server's disk is full: the change could not be made durable.
    DiskFull = 112,
    /// The request is not supported.
    NotSupported = 50,
    /// A parameter is invalid (NULL pointer, bad header, unknown resume handle …).
    InvalidParameter = 87,
    /// The function is not implemented on this server.
    CallNotImplemented = 120,
    /// The caller's buffer is too small.
    InsufficientBuffer = 122,
    /// The information level is not supported.
    InvalidLevel = 124,
    /// The server does not know the requested procedure.
    ProcNotFound = 127,
    /// More entries are available; call again with the resume handle.
    MoreData = 234,
    /// No more items to enumerate.
    NoMoreItems = 259,
    /// No message text exists for the code.
    MrMidNotFound = 317,
    /// The element was not found.
    NotFound = 1168,
    /// The object header revision is unknown.
    UnknownRevision = 1305,
    /// The server address is malformed.
    RpcInvalidBinding = 1702,
    /// The admin server cannot be reached.
    RpcServerUnavailable = 1722,
    /// The admin server is too busy to accept the call.
    RpcServerTooBusy = 1723,
    /// The remote procedure call failed.
    RpcCallFailed = 1726,
    /// Invalid port handle.
    InvalidPortHandle = 601,
    /// The port is not connected.
    PortNotConnected = 606,
    /// The port was not found.
    PortNotFound = 615,
    /// The port was disconnected.
    PortDisconnected = 619,
    /// No connection exists.
    NoConnection = 668,
    /// The router is stopped.
    RouterStopped = 900,
    /// The Demand-Dial Manager (connection manager) is not running.
    DdmNotRunning = 903,
    /// No such interface.
    NoSuchInterface = 905,
    /// The interface is not connected.
    InterfaceNotConnected = 906,
    /// The service is paused.
    ServiceIsPaused = 928,
    /// The interface was disconnected.
    InterfaceDisconnected = 929,
    /// The port limit has been reached.
    PortLimitReached = 931,
    /// The user limit has been reached.
    UserLimit = 937,
}

/// Every code, for iteration in tests, docs and the C header check.
pub const ALL_CODES: &[Win32Error] = &[
    Win32Error::NoError,
    Win32Error::AccessDenied,
    Win32Error::InvalidHandle,
    Win32Error::NotEnoughMemory,
    Win32Error::DiskFull,
    Win32Error::NotSupported,
    Win32Error::InvalidParameter,
    Win32Error::CallNotImplemented,
    Win32Error::InsufficientBuffer,
    Win32Error::InvalidLevel,
    Win32Error::ProcNotFound,
    Win32Error::MoreData,
    Win32Error::NoMoreItems,
    Win32Error::MrMidNotFound,
    Win32Error::NotFound,
    Win32Error::UnknownRevision,
    Win32Error::RpcInvalidBinding,
    Win32Error::RpcServerUnavailable,
    Win32Error::RpcServerTooBusy,
    Win32Error::RpcCallFailed,
    Win32Error::InvalidPortHandle,
    Win32Error::PortNotConnected,
    Win32Error::PortNotFound,
    Win32Error::PortDisconnected,
    Win32Error::NoConnection,
    Win32Error::RouterStopped,
    Win32Error::DdmNotRunning,
    Win32Error::NoSuchInterface,
    Win32Error::InterfaceNotConnected,
    Win32Error::ServiceIsPaused,
    Win32Error::InterfaceDisconnected,
    Win32Error::PortLimitReached,
    Win32Error::UserLimit,
];

impl Win32Error {
    /// The numeric Windows value.
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// The code for a number, if it is one we know.
    pub fn from_code(code: u32) -> Option<Self> {
        ALL_CODES.iter().copied().find(|e| e.code() == code)
    }

    /// The symbolic Windows name (`ERROR_MORE_DATA`).
    pub const fn name(self) -> &'static str {
        use Win32Error::*;
        match self {
            NoError => "NO_ERROR",
            AccessDenied => "ERROR_ACCESS_DENIED",
            InvalidHandle => "ERROR_INVALID_HANDLE",
            NotEnoughMemory => "ERROR_NOT_ENOUGH_MEMORY",
            DiskFull => "ERROR_DISK_FULL",
            NotSupported => "ERROR_NOT_SUPPORTED",
            InvalidParameter => "ERROR_INVALID_PARAMETER",
            CallNotImplemented => "ERROR_CALL_NOT_IMPLEMENTED",
            InsufficientBuffer => "ERROR_INSUFFICIENT_BUFFER",
            InvalidLevel => "ERROR_INVALID_LEVEL",
            ProcNotFound => "ERROR_PROC_NOT_FOUND",
            MoreData => "ERROR_MORE_DATA",
            NoMoreItems => "ERROR_NO_MORE_ITEMS",
            MrMidNotFound => "ERROR_MR_MID_NOT_FOUND",
            NotFound => "ERROR_NOT_FOUND",
            UnknownRevision => "ERROR_UNKNOWN_REVISION",
            RpcInvalidBinding => "RPC_S_INVALID_BINDING",
            RpcServerUnavailable => "RPC_S_SERVER_UNAVAILABLE",
            RpcServerTooBusy => "RPC_S_SERVER_TOO_BUSY",
            RpcCallFailed => "RPC_S_CALL_FAILED",
            InvalidPortHandle => "ERROR_INVALID_PORT_HANDLE",
            PortNotConnected => "ERROR_PORT_NOT_CONNECTED",
            PortNotFound => "ERROR_PORT_NOT_FOUND",
            PortDisconnected => "ERROR_PORT_DISCONNECTED",
            NoConnection => "ERROR_NO_CONNECTION",
            RouterStopped => "ERROR_ROUTER_STOPPED",
            DdmNotRunning => "ERROR_DDM_NOT_RUNNING",
            NoSuchInterface => "ERROR_NO_SUCH_INTERFACE",
            InterfaceNotConnected => "ERROR_INTERFACE_NOT_CONNECTED",
            ServiceIsPaused => "ERROR_SERVICE_IS_PAUSED",
            InterfaceDisconnected => "ERROR_INTERFACE_DISCONNECTED",
            PortLimitReached => "ERROR_PORT_LIMIT_REACHED",
            UserLimit => "ERROR_USER_LIMIT",
        }
    }

    /// The message text, as `MprAdminGetErrorString` gives it (our own words).
    pub const fn message(self) -> &'static str {
        use Win32Error::*;
        match self {
            NoError => "The operation completed successfully.",
            AccessDenied => "Access is denied.",
            InvalidHandle => "The handle is invalid.",
            NotEnoughMemory => "Not enough memory resources are available to process this command.",
            DiskFull => "There is not enough space on the disk.",
            NotSupported => "The request is not supported.",
            InvalidParameter => "The parameter is incorrect.",
            CallNotImplemented => "This function is not supported on this system.",
            InsufficientBuffer => "The data area passed to a system call is too small.",
            InvalidLevel => "The system call level is not correct.",
            ProcNotFound => "The specified procedure could not be found.",
            MoreData => "More data is available.",
            NoMoreItems => "No more data is available.",
            MrMidNotFound => "The system cannot find message text for this error code.",
            NotFound => "Element not found.",
            UnknownRevision => "The revision level is unknown.",
            RpcInvalidBinding => "The binding handle is invalid.",
            RpcServerUnavailable => "The RPC server is unavailable.",
            RpcServerTooBusy => "The RPC server is too busy to complete this operation.",
            RpcCallFailed => "The remote procedure call failed.",
            InvalidPortHandle => "The port handle is invalid.",
            PortNotConnected => "The port is not connected.",
            PortNotFound => "The port was not found.",
            PortDisconnected => "The port is disconnected.",
            NoConnection => "There is no connection.",
            RouterStopped => "The router manager is not running.",
            DdmNotRunning => "The Demand-dial service (connection manager) is not running.",
            NoSuchInterface => "The interface does not exist.",
            InterfaceNotConnected => "The interface is not connected.",
            ServiceIsPaused => "The remote access service is paused.",
            InterfaceDisconnected => "The interface has been disconnected.",
            PortLimitReached => "The port limit has been reached.",
            UserLimit => "The maximum number of users has been reached.",
        }
    }

    /// True for the codes that mean "the call worked" (NO_ERROR, ERROR_MORE_DATA).
    pub const fn is_success(self) -> bool {
        matches!(self, Win32Error::NoError | Win32Error::MoreData)
    }
}

/// The text `MprAdminGetErrorString` returns for a raw code: the message of a
/// known code, or `Err(ERROR_MR_MID_NOT_FOUND)` for any other number.
pub fn error_string(code: u32) -> Result<&'static str, Win32Error> {
    Win32Error::from_code(code)
        .map(Win32Error::message)
        .ok_or(Win32Error::MrMidNotFound)
}

impl fmt::Display for Win32Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.code(), self.message())
    }
}

impl std::error::Error for Win32Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_the_windows_numbers() {
        assert_eq!(Win32Error::AccessDenied.code(), 5);
        assert_eq!(Win32Error::InvalidParameter.code(), 87);
        assert_eq!(Win32Error::InvalidLevel.code(), 124);
        assert_eq!(Win32Error::ProcNotFound.code(), 127);
        assert_eq!(Win32Error::MoreData.code(), 234);
        assert_eq!(Win32Error::DdmNotRunning.code(), 903);
        assert_eq!(Win32Error::UnknownRevision.code(), 1305);
        assert_eq!(Win32Error::RpcServerUnavailable.code(), 1722);
    }

    #[test]
    fn every_code_round_trips_and_has_unique_value() {
        let mut seen = std::collections::HashSet::new();
        for e in ALL_CODES {
            assert!(seen.insert(e.code()), "duplicate {}", e.code());
            assert_eq!(Win32Error::from_code(e.code()), Some(*e));
            assert!(!e.message().is_empty());
        }
        assert_eq!(Win32Error::from_code(4242), None);
    }

    #[test]
    fn display_prints_name_code_and_message() {
        let s = Win32Error::DdmNotRunning.to_string();
        assert!(s.starts_with("ERROR_DDM_NOT_RUNNING (903): "), "{s}");
        assert_eq!(error_string(99_999), Err(Win32Error::MrMidNotFound));
        assert_eq!(error_string(234), Ok("More data is available."));
    }
}
