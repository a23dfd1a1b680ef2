//! `BlockingClient`: the async client behind a private runtime, for
//! synchronous callers (libmprapi, scripts). Safe to share across threads.

use rras_core::Connection;

use crate::{AdminClient, ClientError, EnumPage, RecordPage, ServerAddr, ServerInfo};

/// A synchronous admin session.
#[derive(Debug)]
pub struct BlockingClient {
    runtime: tokio::runtime::Runtime,
    inner: AdminClient,
}

impl BlockingClient {
    /// Connects and opens a session (TLS options from the environment).
    pub fn connect(addr: &str) -> Result<Self, ClientError> {
        let addr = ServerAddr::parse(addr)?;
        let tls = crate::TlsOptions::from_env()?;
        // A current-thread runtime: the calling thread drives the connection
        // itself while it waits, so a page costs no hand-offs between
        // threads (C callers on several threads take turns driving it).
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Transport(format!("cannot start runtime: {e}")))?;
        let inner = runtime.block_on(AdminClient::connect_addr_with(&addr, &tls))?;
        Ok(BlockingClient { runtime, inner })
    }

    /// The async client (for calls not wrapped here).
    pub fn inner(&self) -> &AdminClient {
        &self.inner
    }

    /// Runs any async call on this client's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// See [`AdminClient::is_service_running`].
    pub fn is_service_running(&self) -> Result<(bool, String), ClientError> {
        self.block_on(self.inner.is_service_running())
    }

    /// See [`AdminClient::server_info`].
    pub fn server_info(&self) -> Result<ServerInfo, ClientError> {
        self.block_on(self.inner.server_info())
    }

    /// See [`AdminClient::enum_page_raw`].
    pub fn enum_page_raw(&self, header: (u32, u32, u32), pref: u32, resume: u32) -> Result<EnumPage, ClientError> {
        self.block_on(self.inner.enum_page_raw(header, pref, resume))
    }

    /// See [`AdminClient::enum_records`]; read the records with
    /// [`Self::for_each_record`].
    pub fn enum_records(&self, header: (u32, u32, u32), pref: u32, resume: u32) -> Result<RecordPage, ClientError> {
        self.block_on(self.inner.enum_records(header, pref, resume))
    }

    /// See [`RecordPage::for_each_record`].
    pub fn for_each_record(&self, page: &mut RecordPage, each: impl FnMut(&Connection)) -> Result<usize, ClientError> {
        self.block_on(page.for_each_record(each))
    }

    /// See [`AdminClient::for_each_connection`].
    pub fn for_each_connection(&self, each: impl FnMut(&Connection)) -> Result<usize, ClientError> {
        self.block_on(self.inner.for_each_connection(each))
    }

    /// See [`AdminClient::connections`].
    pub fn connections(&self) -> Result<Vec<Connection>, ClientError> {
        self.block_on(self.inner.connections())
    }

    /// Every connection as an iterator that fetches one page at a time.
    pub fn connections_iter(&self, page_entries: u32) -> impl Iterator<Item = Result<Connection, ClientError>> + '_ {
        let mut pager = self.inner.pager(page_entries);
        let mut buffered = std::collections::VecDeque::new();
        std::iter::from_fn(move || loop {
            if let Some(c) = buffered.pop_front() {
                return Some(Ok(c));
            }
            match self.block_on(pager.next_page())? {
                Ok(page) => buffered.extend(page),
                Err(e) => return Some(Err(e)),
            }
        })
    }

    /// See [`AdminClient::connection`].
    pub fn connection(&self, handle: u32) -> Result<Connection, ClientError> {
        self.block_on(self.inner.connection(handle))
    }

    /// See [`AdminClient::port_page`].
    pub fn port_page(&self, pref: u32, resume: u32, connection: u32) -> Result<crate::PortPage, ClientError> {
        self.block_on(self.inner.port_page(pref, resume, connection))
    }

    /// See [`AdminClient::ports_with`].
    pub fn ports(&self, page_entries: u32) -> Result<Vec<rras_core::port::Port>, ClientError> {
        self.block_on(self.inner.ports_with(page_entries))
    }

    /// See [`AdminClient::port`].
    pub fn port(&self, handle: u32) -> Result<rras_core::port::Port, ClientError> {
        self.block_on(self.inner.port(handle))
    }

    /// See [`AdminClient::clear_stats`].
    pub fn clear_stats(&self, handle: u32) -> Result<(), ClientError> {
        self.block_on(self.inner.clear_stats(handle))
    }

    /// See [`AdminClient::disconnect`].
    pub fn disconnect(&self, handle: u32) -> Result<(), ClientError> {
        self.block_on(self.inner.disconnect(handle))
    }

    /// Closes the session.
    pub fn close(self) -> Result<(), ClientError> {
        self.block_on(self.inner.disconnect_session())
    }
}
