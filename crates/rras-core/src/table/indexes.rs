//! The table's column indexes and running totals, kept in the same step as
//! the rows (under the table's write lock), so a console window or a count
//! is read from them instead of decoding and sorting every record.
//!
//! One [`ColumnIndex`] per sortable column, and one more for the session
//! id, which is searched but not sorted by. Text columns hold their
//! lower-cased value (sorting and searching ignore case, as the console
//! always did). Totals — bytes of live connections, bytes ever counted —
//! are updated from each change, never by a pass over the table.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use crate::column_index::{address_key, text_key, ColumnIndex, Entry, KeyKind, Tie};
use crate::model::{Connection, ConnectionHandle, EngineKind};
use crate::record::{decode_into, empty_connection, Record};
use crate::staggered::StaggeredMap;

use super::Row;

/// A column connections can be ordered by (and the session id, searched).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    /// The connection handle.
    Handle,
    /// The user name (without the domain), case-insensitive: how the
    /// console sorts, and how a user filter matches (Windows account
    /// names are case-insensitive).
    User,
    /// The client's address in the tunnel (IPv4, else IPv6), by value.
    Address,
    /// The engine, by name.
    Engine,
    /// The interface name, case-insensitive.
    Interface,
    /// The start time.
    Started,
    /// Bytes received from the client.
    BytesIn,
    /// Bytes sent to the client.
    BytesOut,
    /// The engine's session id, case-insensitive (searched, not sorted).
    SessionId,
}

impl Column {
    /// Every indexed column.
    pub const ALL: [Column; 9] = [
        Column::Handle,
        Column::User,
        Column::Address,
        Column::Engine,
        Column::Interface,
        Column::Started,
        Column::BytesIn,
        Column::BytesOut,
        Column::SessionId,
    ];

    fn kind(self) -> KeyKind {
        match self {
            Column::User | Column::Interface | Column::SessionId => KeyKind::Text,
            Column::Address => KeyKind::Address,
            _ => KeyKind::Exact,
        }
    }

    /// The column a console or `rasctl --sort` name means: `handle`,
    /// `user`, `address`, `engine`, `interface`, `started` (or
    /// `duration`), `rx` / `bytes-in`, `tx` / `bytes-out`.
    pub fn parse(name: &str) -> Option<Column> {
        Some(match name {
            "handle" => Column::Handle,
            "user" => Column::User,
            "address" => Column::Address,
            "engine" => Column::Engine,
            "interface" => Column::Interface,
            "started" | "duration" => Column::Started,
            "rx" | "bytes-in" | "bytes_in" => Column::BytesIn,
            "tx" | "bytes-out" | "bytes_out" => Column::BytesOut,
            _ => return None,
        })
    }
}

/// An engine's place when engines are sorted by name.
pub(super) fn engine_rank(engine: EngineKind) -> u64 {
    EngineKind::ALL.iter().filter(|e| e.as_str() < engine.as_str()).count() as u64
}

/// Lower-cases `text` into `out` (ASCII without allocating).
fn lower_into(out: &mut String, text: &str) {
    out.clear();
    if text.is_ascii() {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.extend(text.chars().flat_map(char::to_lowercase));
    }
}

/// The indexed values of one record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Values {
    pub(super) user: String,
    pub(super) interface: String,
    pub(super) session: String,
    pub(super) address: Option<IpAddr>,
    pub(super) engine: u64,
    pub(super) started: u64,
    pub(super) rx: u64,
    pub(super) tx: u64,
    pub(super) handle: u32,
}

impl Values {
    /// Fills these values from a decoded connection (reusing the strings).
    pub(super) fn fill(&mut self, c: &Connection) {
        let i = &c.info;
        lower_into(&mut self.user, &i.user_name);
        lower_into(&mut self.interface, &i.interface_name);
        lower_into(&mut self.session, &i.source.session_id);
        self.address = i.client_address();
        self.engine = engine_rank(i.source.engine);
        self.started = i
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.rx = i.stats.bytes_rcved;
        self.tx = i.stats.bytes_xmited;
        self.handle = c.handle.get();
    }

    /// This column's key.
    pub(super) fn key(&self, column: Column) -> u64 {
        match column {
            Column::Handle => u64::from(self.handle),
            Column::User => text_key(&self.user),
            Column::Address => address_key(self.address),
            Column::Engine => self.engine,
            Column::Interface => text_key(&self.interface),
            Column::Started => self.started,
            Column::BytesIn => self.rx,
            Column::BytesOut => self.tx,
            Column::SessionId => text_key(&self.session),
        }
    }

    /// This column's full value compared with `other`'s.
    pub(super) fn compare(&self, other: &Values, column: Column) -> Ordering {
        match column {
            Column::User => self.user.cmp(&other.user),
            Column::Interface => self.interface.cmp(&other.interface),
            Column::SessionId => self.session.cmp(&other.session),
            Column::Address => self.address.cmp(&other.address),
            _ => self.key(column).cmp(&other.key(column)),
        }
    }

    fn entry(&self, column: Column) -> Entry {
        Entry::new(self.key(column), self.handle)
    }
}

/// Sums over the live connections and over time, kept from each change.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Totals {
    /// Bytes received, summed over the live connections.
    pub live_rx: u64,
    /// Bytes sent, summed over the live connections.
    pub live_tx: u64,
    /// Bytes received ever counted: every increase of a connection's
    /// counter, and a new connection's first value (a throughput is the
    /// difference of two readings).
    pub counted_rx: u64,
    /// Bytes sent ever counted.
    pub counted_tx: u64,
}

/// The indexes and totals of one table.
#[derive(Debug)]
pub(super) struct Indexes {
    columns: Vec<ColumnIndex>,
    pub(super) totals: Totals,
    /// Decoding scratch: the probe's values and another row's.
    old: Values,
    new: Values,
    other: Values,
    scratch: Connection,
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes {
            columns: Column::ALL.iter().map(|c| ColumnIndex::new(c.kind())).collect(),
            totals: Totals::default(),
            old: Values::default(),
            new: Values::default(),
            other: Values::default(),
            scratch: empty_connection(),
        }
    }
}

/// Reads another row's value of `column` and compares it with `probe`'s.
fn tie_with<'a>(
    rows: &'a StaggeredMap<ConnectionHandle, Row>,
    scratch: &'a mut Connection,
    other: &'a mut Values,
    probe: &'a Values,
    column: Column,
) -> impl FnMut(u32) -> Ordering + 'a {
    move |handle| {
        let found = ConnectionHandle::new(handle)
            .and_then(|h| rows.get(h))
            .is_some_and(|row| decode_into(row.record.as_bytes(), scratch).is_ok());
        if !found {
            // Not reachable for a consistent table; any answer keeps the
            // search bounded.
            return Ordering::Less;
        }
        other.fill(scratch);
        other.compare(probe, column)
    }
}

impl Indexes {
    pub(super) fn column(&self, column: Column) -> &ColumnIndex {
        &self.columns[column as usize]
    }

    /// Heap bytes of every index.
    pub(super) fn heap_bytes(&self) -> usize {
        self.columns.iter().map(ColumnIndex::heap_bytes).sum()
    }

    /// Decodes `record` into `values` (false for bytes that do not decode,
    /// which a table never holds).
    fn read(scratch: &mut Connection, values: &mut Values, record: &Record) -> bool {
        if decode_into(record.as_bytes(), scratch).is_err() {
            return false;
        }
        values.fill(scratch);
        true
    }

    /// A row was added (`rows` may or may not hold it yet).
    pub(super) fn add(&mut self, record: &Record, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let Indexes {
            columns,
            totals,
            new,
            other,
            scratch,
            ..
        } = self;
        if !Self::read(scratch, new, record) {
            return;
        }
        for column in Column::ALL {
            let entry = new.entry(column);
            columns[column as usize].insert(entry, &mut tie_with(rows, scratch, other, new, column));
        }
        totals.live_rx = totals.live_rx.saturating_add(new.rx);
        totals.live_tx = totals.live_tx.saturating_add(new.tx);
        totals.counted_rx = totals.counted_rx.wrapping_add(new.rx);
        totals.counted_tx = totals.counted_tx.wrapping_add(new.tx);
    }

    /// A row left.
    pub(super) fn remove(&mut self, record: &Record, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let Indexes {
            columns,
            totals,
            old,
            other,
            scratch,
            ..
        } = self;
        if !Self::read(scratch, old, record) {
            return;
        }
        for column in Column::ALL {
            let entry = old.entry(column);
            columns[column as usize].remove(entry, &mut tie_with(rows, scratch, other, old, column));
        }
        totals.live_rx = totals.live_rx.saturating_sub(old.rx);
        totals.live_tx = totals.live_tx.saturating_sub(old.tx);
    }

    /// A row's record was replaced: only the columns whose value changed
    /// move (an Interim-Update moves the two byte counters).
    pub(super) fn replace(&mut self, before: &Record, after: &Record, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let Indexes {
            columns,
            totals,
            old,
            new,
            other,
            scratch,
        } = self;
        if !Self::read(scratch, old, before) || !Self::read(scratch, new, after) {
            return;
        }
        for column in Column::ALL {
            if old.key(column) == new.key(column) && old.compare(new, column) == Ordering::Equal {
                continue;
            }
            let index = &mut columns[column as usize];
            index.remove(old.entry(column), &mut tie_with(rows, scratch, other, old, column));
            index.insert(new.entry(column), &mut tie_with(rows, scratch, other, new, column));
        }
        totals.live_rx = totals.live_rx.saturating_sub(old.rx).saturating_add(new.rx);
        totals.live_tx = totals.live_tx.saturating_sub(old.tx).saturating_add(new.tx);
        totals.counted_rx = totals.counted_rx.wrapping_add(new.rx.saturating_sub(old.rx));
        totals.counted_tx = totals.counted_tx.wrapping_add(new.tx.saturating_sub(old.tx));
    }

    /// How many entries of `column` are below `probe`'s value and handle
    /// (`inclusive`: at or below).
    pub(super) fn rank(
        &self,
        column: Column,
        probe: &Values,
        inclusive: bool,
        rows: &StaggeredMap<ConnectionHandle, Row>,
    ) -> usize {
        let (mut scratch, mut other) = (empty_connection(), Values::default());
        let tie: &mut Tie<'_> = &mut tie_with(rows, &mut scratch, &mut other, probe, column);
        self.columns[column as usize].rank(probe.entry(column), inclusive, tie)
    }
}
