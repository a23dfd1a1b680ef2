//! The table's column indexes and running totals, kept in the same step as
//! the rows (under the table's write lock), so a console window or a count
//! is read from them instead of decoding and sorting every record.
//!
//! One [`ColumnIndex`] per sortable column, and one for the session id,
//! which is searched but not sorted by. Text columns hold their lower-cased
//! value (sorting and searching ignore case, as the console always did);
//! user names and session ids get wide keys (16 bytes in the entry: a
//! 16-hex-digit Acct-Session-Id never needs a tie read from the record),
//! interfaces a narrow one (8 bytes). The order by handle needs no key, and
//! the order by engine is one handle-ordered list per engine. Memory:
//! 20 + 20 + 5 × 12 + 4 + 4 = 108 bytes per connection, plus a few percent
//! of spare room in the blocks (measured by `rras-bench console`).
//! Totals — bytes of live connections, bytes ever counted — are updated
//! from each change, never by a pass over the table.

use std::cmp::Ordering;
use std::net::IpAddr;
use std::time::UNIX_EPOCH;

use crate::column_index::{address_key, number_key, text_key, ColumnIndex, Entry, KeyKind, Tie};
use crate::model::{Connection, ConnectionHandle, ConnectionInfo, EngineKind};
use crate::record::{decode_into, empty_connection, Names, Record};
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
    /// Bytes both ways together: not indexed (a window sorted by it is
    /// answered from a narrow filter's candidates, or by a scan).
    Bytes,
}

impl Column {
    /// Whether the table keeps an order of this column.
    pub fn is_indexed(self) -> bool {
        self != Column::Bytes
    }

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

    /// The column a console or `rasctl --sort` name means: `handle`,
    /// `user`, `address`, `engine`, `interface`, `started` (or
    /// `duration`), `rx` / `bytes-in`, `tx` / `bytes-out`, `bytes` (both
    /// ways; not indexed).
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
            "bytes" => Column::Bytes,
            _ => return None,
        })
    }
}

/// `text` as the indexes hold it: lower case, NUL as U+0001.
pub(super) fn lower(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    lower_into(&mut out, text);
    out
}

/// Lower-cases `text` into `out` (ASCII without allocating). A NUL
/// becomes U+0001: text keys need texts without NUL (index and scan both
/// order what this gives, so they agree).
fn lower_into(out: &mut String, text: &str) {
    out.clear();
    if text.is_ascii() && !text.contains('\0') {
        out.push_str(text);
        out.make_ascii_lowercase();
    } else {
        out.extend(
            text.chars()
                .flat_map(char::to_lowercase)
                .map(|c| if c == '\0' { '\u{1}' } else { c }),
        );
    }
}

/// The indexed values of one record.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Values {
    pub(super) user: String,
    pub(super) interface: String,
    pub(super) session: String,
    pub(super) address: Option<IpAddr>,
    /// The engine's place in [`EngineKind::ALL`].
    pub(super) engine: usize,
    pub(super) started: u64,
    pub(super) rx: u64,
    pub(super) tx: u64,
    pub(super) handle: u32,
}

impl Values {
    /// Fills these values from a decoded connection (reusing the strings).
    pub(super) fn fill(&mut self, c: &Connection) {
        self.fill_info(&c.info);
        self.handle = c.handle.get();
    }

    /// Fills everything but the handle from a connection's info.
    pub(super) fn fill_info(&mut self, i: &ConnectionInfo) {
        lower_into(&mut self.user, &i.user_name);
        lower_into(&mut self.interface, &i.interface_name);
        lower_into(&mut self.session, &i.source.session_id);
        self.address = i.client_address();
        self.engine = i.source.engine.index();
        self.started = i
            .started_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.rx = i.stats.bytes_rcved;
        self.tx = i.stats.bytes_xmited;
    }

    /// The text of a text column (user, interface, session id; the
    /// session id for any other).
    pub(super) fn text_mut(&mut self, column: Column) -> &mut String {
        match column {
            Column::User => &mut self.user,
            Column::Interface => &mut self.interface,
            _ => &mut self.session,
        }
    }

    /// The names only, from a record read in place (what a tie compares).
    fn fill_names(&mut self, names: &Names<'_>) {
        lower_into(&mut self.user, names.user_name);
        lower_into(&mut self.interface, names.interface_name);
        lower_into(&mut self.session, names.session_id);
    }

    /// A narrow column's key.
    fn narrow(&self, column: Column) -> [u32; 2] {
        match column {
            Column::Interface => text_key(&self.interface),
            Column::Address => address_key(self.address),
            Column::Started => number_key(self.started),
            Column::BytesIn => number_key(self.rx),
            _ => number_key(self.tx),
        }
    }

    /// This column's full value compared with `other`'s.
    pub(super) fn compare(&self, other: &Values, column: Column) -> Ordering {
        match column {
            Column::Handle => self.handle.cmp(&other.handle),
            Column::User => self.user.cmp(&other.user),
            Column::Interface => self.interface.cmp(&other.interface),
            Column::SessionId => self.session.cmp(&other.session),
            Column::Address => self.address.cmp(&other.address),
            Column::Engine => ENGINE_RANK[self.engine].cmp(&ENGINE_RANK[other.engine]),
            Column::Started => self.started.cmp(&other.started),
            Column::BytesIn => self.rx.cmp(&other.rx),
            Column::BytesOut => self.tx.cmp(&other.tx),
            Column::Bytes => self.rx.saturating_add(self.tx).cmp(&other.rx.saturating_add(other.tx)),
        }
    }

    /// Whether any indexed value differs in `column`.
    fn same(&self, other: &Values, column: Column) -> bool {
        self.compare(other, column) == Ordering::Equal
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

/// The narrow columns, in the order of their slots.
const NARROW: [Column; 5] = [
    Column::Interface,
    Column::Address,
    Column::Started,
    Column::BytesIn,
    Column::BytesOut,
];

fn narrow_slot(column: Column) -> Option<usize> {
    NARROW.iter().position(|c| *c == column)
}

/// How many engines there are (one list per engine).
const ENGINE_COUNT: usize = EngineKind::ALL.len();

/// Each engine's place when engines are sorted by name (by
/// [`EngineKind::index`]), and the engines in that order.
const ENGINE_RANK: [usize; ENGINE_COUNT] = engine_ranks();
const ENGINES_BY_NAME: [usize; ENGINE_COUNT] = engines_by_name();

const fn engine_ranks() -> [usize; ENGINE_COUNT] {
    let mut ranks = [0; ENGINE_COUNT];
    let mut i = 0;
    while i < ENGINE_COUNT {
        let mut j = 0;
        while j < ENGINE_COUNT {
            if less(
                EngineKind::ALL[j].as_str().as_bytes(),
                EngineKind::ALL[i].as_str().as_bytes(),
            ) {
                ranks[i] += 1;
            }
            j += 1;
        }
        i += 1;
    }
    ranks
}

const fn engines_by_name() -> [usize; ENGINE_COUNT] {
    let ranks = engine_ranks();
    let mut order = [0; ENGINE_COUNT];
    let mut i = 0;
    while i < ENGINE_COUNT {
        order[ranks[i]] = i;
        i += 1;
    }
    order
}

const fn less(a: &[u8], b: &[u8]) -> bool {
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// The column orders.
#[derive(Debug)]
pub(super) struct Columns {
    handle: ColumnIndex<0>,
    user: ColumnIndex<4>,
    session: ColumnIndex<4>,
    narrow: [ColumnIndex<2>; 5],
    /// Per engine ([`EngineKind::index`]), by handle.
    engines: [ColumnIndex<0>; ENGINE_COUNT],
}

/// The indexes and totals of one table.
#[derive(Debug)]
pub(super) struct Indexes {
    pub(super) columns: Columns,
    pub(super) totals: Totals,
    /// Decoding scratch: the values before and after a change, another
    /// row's names, and a decoded connection.
    old: Values,
    new: Values,
    other: Values,
    scratch: Connection,
}

impl Default for Indexes {
    fn default() -> Self {
        Indexes {
            columns: Columns {
                handle: ColumnIndex::new(KeyKind::Exact),
                user: ColumnIndex::new(KeyKind::Text),
                session: ColumnIndex::new(KeyKind::Text),
                narrow: NARROW.map(|c| {
                    ColumnIndex::new(match c {
                        Column::Interface => KeyKind::Text,
                        Column::Address => KeyKind::Address,
                        _ => KeyKind::Exact,
                    })
                }),
                engines: std::array::from_fn(|_| ColumnIndex::new(KeyKind::Exact)),
            },
            totals: Totals::default(),
            old: Values::default(),
            new: Values::default(),
            other: Values::default(),
            scratch: empty_connection(),
        }
    }
}

/// Reads another row's value of `column` and compares it with `probe`'s:
/// the names in place, the address by a decode (IPv6 ties only).
fn tie_with<'a>(
    rows: &'a StaggeredMap<ConnectionHandle, Row>,
    scratch: &'a mut Connection,
    other: &'a mut Values,
    probe: &'a Values,
    column: Column,
) -> impl FnMut(u32) -> Ordering + 'a {
    move |handle| {
        let Some(row) = ConnectionHandle::new(handle).and_then(|h| rows.get(h)) else {
            // Not reachable for a consistent table; any answer keeps the
            // search bounded.
            return Ordering::Less;
        };
        if column == Column::Address {
            if decode_into(row.record.as_bytes(), scratch).is_err() {
                return Ordering::Less;
            }
            other.address = scratch.info.client_address();
        } else {
            other.fill_names(&row.record.names());
        }
        other.compare(probe, column)
    }
}

/// Inserts or removes one entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Insert,
    Remove,
}

fn apply<const W: usize>(index: &mut ColumnIndex<W>, change: Change, entry: Entry<W>, tie: &mut Tie<'_>) {
    match change {
        Change::Insert => index.insert(entry, tie),
        Change::Remove => {
            index.remove(entry, tie);
        }
    }
}

impl Columns {
    /// Entries in `column`'s order.
    pub(super) fn len(&self, column: Column) -> usize {
        match column {
            Column::Handle | Column::Engine => self.handle.len(),
            Column::User => self.user.len(),
            Column::SessionId => self.session.len(),
            c => narrow_slot(c).map_or(0, |i| self.narrow[i].len()),
        }
    }

    /// Up to `limit` handles of `column`'s order from rank `from`, upwards
    /// or (`descending`) downwards.
    pub(super) fn window(&self, column: Column, from: usize, limit: usize, descending: bool) -> Vec<u32> {
        fn one<const W: usize>(index: &ColumnIndex<W>, from: usize, limit: usize, descending: bool) -> Vec<u32> {
            if descending {
                index.descending(from, limit)
            } else {
                index.ascending(from, limit)
            }
        }
        match column {
            Column::Handle => one(&self.handle, from, limit, descending),
            Column::User => one(&self.user, from, limit, descending),
            Column::SessionId => one(&self.session, from, limit, descending),
            Column::Engine => self.engine_window(from, limit, descending),
            c => narrow_slot(c).map_or_else(Vec::new, |i| one(&self.narrow[i], from, limit, descending)),
        }
    }

    /// The engines' lists, in name order, seen as one order.
    fn engine_window(&self, from: usize, limit: usize, descending: bool) -> Vec<u32> {
        let lists = ENGINES_BY_NAME.map(|e| &self.engines[e]);
        let mut starts = [0usize; ENGINE_COUNT];
        let mut total = 0;
        for (start, list) in starts.iter_mut().zip(lists) {
            *start = total;
            total += list.len();
        }
        let mut out = Vec::with_capacity(limit.min(total));
        if from >= total {
            return out;
        }
        if descending {
            // From rank `from` down: the list holding it, then the ones
            // before, each from its end.
            let mut at = from;
            for (start, list) in starts.iter().zip(lists).rev() {
                if out.len() == limit {
                    break;
                }
                if list.is_empty() || *start > at {
                    continue;
                }
                out.extend(list.descending(at - start, limit - out.len()));
                match start.checked_sub(1) {
                    Some(before) => at = before,
                    None => break,
                }
            }
        } else {
            for (start, list) in starts.iter().zip(lists) {
                if out.len() == limit {
                    break;
                }
                let end = start + list.len();
                if end <= from {
                    continue;
                }
                out.extend(list.ascending(from.saturating_sub(*start), limit - out.len()));
            }
        }
        out
    }

    /// Every handle in `column`'s order (for tests).
    #[cfg(test)]
    pub(super) fn handles(&self, column: Column) -> Vec<u32> {
        self.window(column, 0, usize::MAX, false)
    }

    /// Heap bytes of every order.
    pub(super) fn heap_bytes(&self) -> usize {
        self.handle.heap_bytes()
            + self.user.heap_bytes()
            + self.session.heap_bytes()
            + self.narrow.iter().map(ColumnIndex::heap_bytes).sum::<usize>()
            + self.engines.iter().map(ColumnIndex::heap_bytes).sum::<usize>()
    }

    /// Moves `probe`'s entry of `column`.
    fn change(
        &mut self,
        column: Column,
        change: Change,
        probe: &Values,
        rows: &StaggeredMap<ConnectionHandle, Row>,
        scratch: &mut Connection,
        other: &mut Values,
    ) {
        let h = probe.handle;
        let tie: &mut Tie<'_> = &mut tie_with(rows, scratch, other, probe, column);
        match column {
            Column::Handle => apply(&mut self.handle, change, Entry::new([], h), tie),
            Column::User => apply(&mut self.user, change, Entry::new(text_key(&probe.user), h), tie),
            Column::SessionId => apply(&mut self.session, change, Entry::new(text_key(&probe.session), h), tie),
            Column::Engine => apply(&mut self.engines[probe.engine], change, Entry::new([], h), tie),
            c => {
                if let Some(i) = narrow_slot(c) {
                    apply(&mut self.narrow[i], change, Entry::new(probe.narrow(c), h), tie);
                }
            }
        }
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
        let h = probe.handle;
        match column {
            Column::Handle => self.handle.rank(Entry::new([], h), inclusive, tie),
            Column::User => self.user.rank(Entry::new(text_key(&probe.user), h), inclusive, tie),
            Column::SessionId => self
                .session
                .rank(Entry::new(text_key(&probe.session), h), inclusive, tie),
            Column::Engine => {
                let rank = ENGINE_RANK[probe.engine];
                let before: usize = ENGINES_BY_NAME[..rank].iter().map(|e| self.engines[*e].len()).sum();
                before + self.engines[probe.engine].rank(Entry::new([], h), inclusive, tie)
            }
            c => narrow_slot(c).map_or(0, |i| {
                self.narrow[i].rank(Entry::new(probe.narrow(c), h), inclusive, tie)
            }),
        }
    }
}

/// Rows a rebuild gives each thread at least: below, a thread costs more
/// than the share of decoding it takes over.
const REBUILD_ROWS_PER_THREAD: usize = 1 << 16;

/// Every order's entries of some rows, not sorted yet, and their bytes.
struct Unsorted {
    handle: Vec<Entry<0>>,
    user: Vec<Entry<4>>,
    session: Vec<Entry<4>>,
    narrow: [Vec<Entry<2>>; 5],
    engines: [Vec<Entry<0>>; ENGINE_COUNT],
    rx: u64,
    tx: u64,
}

impl Unsorted {
    /// The entries of `rows`, each decoded once, with room for
    /// `capacity` (the share the others are appended to has room for all).
    fn of(rows: &[&Row], capacity: usize) -> Self {
        let n = capacity.max(rows.len());
        let mut out = Unsorted {
            handle: Vec::with_capacity(n),
            user: Vec::with_capacity(n),
            session: Vec::with_capacity(n),
            narrow: std::array::from_fn(|_| Vec::with_capacity(n)),
            engines: std::array::from_fn(|_| Vec::new()),
            rx: 0,
            tx: 0,
        };
        let (mut scratch, mut v) = (empty_connection(), Values::default());
        for row in rows {
            if !Indexes::read(&mut scratch, &mut v, &row.record) {
                continue;
            }
            let h = v.handle;
            out.handle.push(Entry::new([], h));
            out.user.push(Entry::new(text_key(&v.user), h));
            out.session.push(Entry::new(text_key(&v.session), h));
            for (slot, column) in out.narrow.iter_mut().zip(NARROW) {
                slot.push(Entry::new(v.narrow(column), h));
            }
            out.engines[v.engine].push(Entry::new([], h));
            out.rx = out.rx.saturating_add(v.rx);
            out.tx = out.tx.saturating_add(v.tx);
        }
        out
    }

    /// Adds another share's entries to these.
    fn append(&mut self, mut other: Unsorted) {
        self.handle.append(&mut other.handle);
        self.user.append(&mut other.user);
        self.session.append(&mut other.session);
        for (mine, theirs) in self.narrow.iter_mut().zip(other.narrow.iter_mut()) {
            mine.append(theirs);
        }
        for (mine, theirs) in self.engines.iter_mut().zip(other.engines.iter_mut()) {
            mine.append(theirs);
        }
        self.rx = self.rx.saturating_add(other.rx);
        self.tx = self.tx.saturating_add(other.tx);
    }
}

/// Compares two rows' full values of `column` (a bulk load's ties).
fn full_order(rows: &StaggeredMap<ConnectionHandle, Row>, column: Column) -> impl FnMut(u32, u32) -> Ordering + '_ {
    let (mut a, mut b, mut scratch) = (Values::default(), Values::default(), empty_connection());
    move |x, y| {
        for (handle, values) in [(x, &mut a), (y, &mut b)] {
            let Some(row) = ConnectionHandle::new(handle).and_then(|h| rows.get(h)) else {
                continue;
            };
            if column == Column::Address {
                if decode_into(row.record.as_bytes(), &mut scratch).is_ok() {
                    values.address = scratch.info.client_address();
                }
            } else {
                values.fill_names(&row.record.names());
            }
        }
        a.compare(&b, column)
    }
}

impl Indexes {
    /// Builds every order from all the rows at once: a restore into an
    /// empty table (a million rows: sorts, not a million inserts each),
    /// on as many threads as there are cores and rows to share (a
    /// daemon's restart waits for this: 1M rows took 1.0 s on one thread).
    pub(super) fn rebuild(&mut self, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        self.rebuild_on(rows, cores.min(rows.len() / REBUILD_ROWS_PER_THREAD).max(1));
    }

    /// [`rebuild`](Self::rebuild) on `threads` threads: each decodes a
    /// share of the rows, then the orders sort side by side. The result
    /// does not depend on `threads` (entries sort by key, then handle).
    pub(super) fn rebuild_on(&mut self, rows: &StaggeredMap<ConnectionHandle, Row>, threads: usize) {
        let all: Vec<&Row> = rows.iter().map(|(_, row)| row).collect();
        let share = all.len().div_ceil(threads.max(1)).max(1);
        let unsorted = std::thread::scope(|scope| {
            let mut shares = all.chunks(share);
            let first = shares.next().unwrap_or_default();
            let others: Vec<_> = shares
                .map(|rows| scope.spawn(move || Unsorted::of(rows, rows.len())))
                .collect();
            let mut unsorted = Unsorted::of(first, all.len());
            for other in others {
                unsorted.append(other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)));
            }
            unsorted
        });
        let Unsorted {
            mut handle,
            mut user,
            mut session,
            narrow,
            engines,
            rx,
            tx,
        } = unsorted;
        let exact = |_: u32, _: u32| Ordering::Equal;
        let Columns {
            handle: handle_index,
            user: user_index,
            session: session_index,
            narrow: narrow_indexes,
            engines: engine_indexes,
        } = &mut self.columns;
        // One job per order that costs (the text orders read names for
        // their ties), on threads of their own; the small ones here.
        let mut jobs: Vec<Box<dyn FnOnce() + Send + '_>> = vec![
            Box::new(|| {
                ColumnIndex::sort(KeyKind::Text, &mut user, full_order(rows, Column::User));
                *user_index = ColumnIndex::from_sorted(KeyKind::Text, &user);
            }),
            Box::new(|| {
                ColumnIndex::sort(KeyKind::Text, &mut session, full_order(rows, Column::SessionId));
                *session_index = ColumnIndex::from_sorted(KeyKind::Text, &session);
            }),
        ];
        for ((index, mut entries), column) in narrow_indexes.iter_mut().zip(narrow).zip(NARROW) {
            jobs.push(Box::new(move || {
                let kind = index.kind();
                ColumnIndex::sort(kind, &mut entries, full_order(rows, column));
                *index = ColumnIndex::from_sorted(kind, &entries);
            }));
        }
        let small = || {
            ColumnIndex::sort(KeyKind::Exact, &mut handle, exact);
            *handle_index = ColumnIndex::from_sorted(KeyKind::Exact, &handle);
            for (index, mut entries) in engine_indexes.iter_mut().zip(engines) {
                ColumnIndex::sort(KeyKind::Exact, &mut entries, exact);
                *index = ColumnIndex::from_sorted(KeyKind::Exact, &entries);
            }
        };
        if threads > 1 {
            std::thread::scope(|scope| {
                for job in jobs {
                    scope.spawn(job);
                }
                small();
            });
        } else {
            jobs.into_iter().for_each(|job| job());
            small();
        }
        self.totals = Totals {
            live_rx: rx,
            live_tx: tx,
            counted_rx: rx,
            counted_tx: tx,
        };
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
        let mut new = std::mem::take(&mut self.new);
        if Self::read(&mut self.scratch, &mut new, record) {
            self.add_values(&new, rows);
        }
        self.new = new;
    }

    /// A row with these values was added (read from its info by the
    /// caller, before it took the table's lock).
    pub(super) fn add_values(&mut self, new: &Values, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let Indexes {
            columns,
            totals,
            other,
            scratch,
            ..
        } = self;
        for column in Column::ALL {
            columns.change(column, Change::Insert, new, rows, scratch, other);
        }
        totals.live_rx = totals.live_rx.saturating_add(new.rx);
        totals.live_tx = totals.live_tx.saturating_add(new.tx);
        totals.counted_rx = totals.counted_rx.wrapping_add(new.rx);
        totals.counted_tx = totals.counted_tx.wrapping_add(new.tx);
    }

    /// A row left.
    pub(super) fn remove(&mut self, record: &Record, rows: &StaggeredMap<ConnectionHandle, Row>) {
        self.change_from(record, None, rows);
    }

    /// A row's record was replaced: only the columns whose value changed
    /// move (an Interim-Update moves the two byte counters).
    pub(super) fn replace(&mut self, before: &Record, after: &Record, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let mut new = std::mem::take(&mut self.new);
        if Self::read(&mut self.scratch, &mut new, after) {
            self.replace_values(before, &new, rows);
        }
        self.new = new;
    }

    /// A row's record was replaced by one with the values `new`.
    pub(super) fn replace_values(&mut self, before: &Record, new: &Values, rows: &StaggeredMap<ConnectionHandle, Row>) {
        self.change_from(before, Some(new), rows);
    }

    /// The row whose record was `before` left (`after` None) or now has
    /// the values `after`: its entries move where a value changed.
    fn change_from(&mut self, before: &Record, after: Option<&Values>, rows: &StaggeredMap<ConnectionHandle, Row>) {
        let Indexes {
            columns,
            totals,
            old,
            other,
            scratch,
            ..
        } = self;
        if !Self::read(scratch, old, before) {
            return;
        }
        for column in Column::ALL {
            if after.is_some_and(|new| old.same(new, column)) {
                continue;
            }
            columns.change(column, Change::Remove, old, rows, scratch, other);
            if let Some(new) = after {
                columns.change(column, Change::Insert, new, rows, scratch, other);
            }
        }
        totals.live_rx = totals.live_rx.saturating_sub(old.rx);
        totals.live_tx = totals.live_tx.saturating_sub(old.tx);
        if let Some(new) = after {
            totals.live_rx = totals.live_rx.saturating_add(new.rx);
            totals.live_tx = totals.live_tx.saturating_add(new.tx);
            totals.counted_rx = totals.counted_rx.wrapping_add(new.rx.saturating_sub(old.rx));
            totals.counted_tx = totals.counted_tx.wrapping_add(new.tx.saturating_sub(old.tx));
        }
    }
}
