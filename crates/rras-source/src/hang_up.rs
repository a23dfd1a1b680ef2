//! `HangUp`: how an engine ends one of its sessions when an admin asks
//! (`MprAdminInterfaceDisconnect`, `rasctl disconnect`, the console).
//!
//! An engine implements [`HangUp`] — the one trait for it. `session` turns
//! the row into the engine's own typed key once, in one place (a client
//! id, a peer's socket and key, a NAS address); `hang_up` acts on it. The
//! sink holds it as a [`DynHangUp`], which every `HangUp` is and nothing
//! else implements.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use rras_core::{Connection, Win32Error};

/// How an instance hangs up one of its sessions.
pub trait HangUp: Send + Sync + std::fmt::Debug + 'static {
    /// The engine's key of a session.
    type Session: Send + 'static;

    /// The key of `connection`, or None when the row cannot be one of ours.
    fn session(&self, connection: &Connection) -> Option<Self::Session>;

    /// Asks the engine to end the session; the result is the call's status.
    fn hang_up(&self, session: Self::Session) -> impl Future<Output = Win32Error> + Send;
}

/// A [`HangUp`] as the sink holds it: one type for every engine.
pub trait DynHangUp: Send + Sync + std::fmt::Debug + private::Sealed {
    /// Asks the engine to end `connection`; the result is the call's status
    /// (ERROR_INVALID_HANDLE when the row is not one the engine can name).
    fn hang_up_connection(
        self: Arc<Self>,
        connection: Arc<Connection>,
    ) -> Pin<Box<dyn Future<Output = Win32Error> + Send>>;
}

impl<T: HangUp> DynHangUp for T {
    fn hang_up_connection(
        self: Arc<Self>,
        connection: Arc<Connection>,
    ) -> Pin<Box<dyn Future<Output = Win32Error> + Send>> {
        Box::pin(async move {
            match self.session(&connection) {
                Some(session) => self.hang_up(session).await,
                None => Win32Error::InvalidHandle,
            }
        })
    }
}

mod private {
    pub trait Sealed {}
    impl<T: super::HangUp> Sealed for T {}
}

/// The end reason of a session an admin hung up.
pub const ADMIN_DISCONNECT: &str = "admin-disconnect";
