//! `ConnectionPager`: an enumeration as a stream of pages, resume handles
//! handled inside — the way `MprAdminConnectionEnumEx` is meant to be
//! called, without the caller seeing a handle.

use rras_core::{Connection, RAS_CONNECTION_EX_SIZE};

use crate::{AdminClient, ClientError};

/// Pages through the server's connections, `page_entries` at a time.
#[derive(Debug)]
pub struct ConnectionPager<'a> {
    client: &'a AdminClient,
    pref_max_len: u32,
    resume: u32,
    done: bool,
    remaining: Option<u32>,
}

impl<'a> ConnectionPager<'a> {
    pub(crate) fn new(client: &'a AdminClient, page_entries: u32) -> Self {
        ConnectionPager {
            client,
            // floor(pref / size) + 1 entries per page.
            pref_max_len: page_entries
                .saturating_sub(1)
                .max(1)
                .saturating_mul(RAS_CONNECTION_EX_SIZE),
            resume: 0,
            done: false,
            remaining: None,
        }
    }

    /// The next page, or `None` when the enumeration is complete. After an
    /// error the pager is finished (the server dropped its cursor).
    pub async fn next_page(&mut self) -> Option<Result<Vec<Connection>, ClientError>> {
        if self.done {
            return None;
        }
        match self.client.enum_page(self.pref_max_len, self.resume).await {
            Ok(page) => {
                self.remaining = Some(page.total_entries.saturating_sub(page.entries.len() as u32));
                self.resume = page.resume_handle;
                self.done = page.resume_handle == 0;
                Some(Ok(page.entries))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// Entries still to come after the last page read (None before the first).
    pub fn remaining(&self) -> Option<u32> {
        self.remaining
    }
}
