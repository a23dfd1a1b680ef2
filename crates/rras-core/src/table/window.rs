//! Console windows: "`limit` connections from `offset`, sorted by a
//! column, filtered, searched" — served from the column indexes in
//! O(log n + rows) when they can answer, by a scan of the table when not.
//!
//! Both paths give the same answer (the property tests hold them to it);
//! the caller decides where a scan runs (rrasd: on a bounded pool, never on
//! the runtime the sources use).
//!
//! Search is a **prefix per token**: the query is split at white space and
//! every token must begin one of the connection's user name, interface,
//! session id, address or handle (case-insensitive). A prefix is a range
//! of a sorted index, found in O(log n); a substring would need an n-gram
//! index at several times the memory of all the sort indexes together.
//! An IPv6 address is matched only by a token with a `:` in it, and such
//! a token is answered by a scan (digits alone would otherwise be a prefix
//! of every IPv6 address that starts with them, and make every search a
//! scan).

use std::net::{IpAddr, Ipv4Addr};

use crate::filter::ConnectionFilter;
use crate::model::ConnectionHandle;
use crate::record::{decode_into, empty_connection, Record};

use super::indexes::{lower, Column, Totals, Values};
use super::{ConnectionTable, Rows};

/// Candidates a query may gather from the indexes and then check one by
/// one; a query with more is answered by a scan.
pub const MAX_CANDIDATES: usize = 20_000;
/// Tokens of a search that are looked at.
const MAX_TOKENS: usize = 8;

/// What a console window asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowQuery {
    /// The column to sort by (then by handle).
    pub sort: Column,
    /// Largest first.
    pub descending: bool,
    /// Rows to skip.
    pub offset: usize,
    /// Rows to return.
    pub limit: usize,
    /// Field filters (user and interface compare without case).
    pub filter: ConnectionFilter,
    /// The search text (prefix per token, see the module).
    pub text: String,
}

impl Default for WindowQuery {
    fn default() -> Self {
        WindowQuery {
            sort: Column::Handle,
            descending: false,
            offset: 0,
            limit: 100,
            filter: ConnectionFilter::default(),
            text: String::new(),
        }
    }
}

/// One window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Live connections.
    pub total: usize,
    /// Connections the filter and search let through.
    pub matching: usize,
    /// The records of the window, in order.
    pub records: Vec<Record>,
}

/// The search tokens of a text, lower-cased.
fn tokens(text: &str) -> Vec<String> {
    text.split_whitespace()
        .take(MAX_TOKENS)
        .map(|t| lower(&t.chars().take(256).collect::<String>()))
        .collect()
}

/// Whether a connection with these values passes the filter and every
/// token. `address` is the address's text (reused buffer).
fn passes(
    values: &Values,
    connection: &crate::model::Connection,
    filter: &ConnectionFilter,
    tokens: &[String],
) -> bool {
    let i = &connection.info;
    let filtered = filter.user.as_ref().is_none_or(|u| values.user == lower(u))
        && filter.engine.is_none_or(|e| i.source.engine == e)
        && filter.instance.as_ref().is_none_or(|n| i.source.instance_name() == n)
        && filter.interface.as_ref().is_none_or(|n| values.interface == lower(n));
    if !filtered {
        return false;
    }
    if tokens.is_empty() {
        return true;
    }
    let address = values.address.map(|a| a.to_string()).unwrap_or_default();
    let handle = values.handle.to_string();
    tokens.iter().all(|t| {
        values.user.starts_with(t.as_str())
            || values.interface.starts_with(t.as_str())
            || values.session.starts_with(t.as_str())
            || handle.starts_with(t.as_str())
            || match values.address {
                Some(IpAddr::V4(_)) => address.starts_with(t.as_str()),
                Some(IpAddr::V6(_)) => t.contains(':') && address.starts_with(t.as_str()),
                None => false,
            }
    })
}

/// The smallest text above every text that begins with `prefix`; None
/// when there is none.
fn successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = u32::from(last) + 1;
        if (0xD800..0xE000).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The IPv4 ranges whose text begins with `token`; None when the token
/// cannot begin an IPv4 address (digits and dots only).
fn ipv4_ranges(token: &str) -> Option<Vec<(Ipv4Addr, Ipv4Addr)>> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() > 4 {
        return Some(Vec::new());
    }
    let (partial, complete) = parts.split_last()?;
    let mut octets = Vec::with_capacity(4);
    for p in complete {
        match p.parse::<u8>() {
            // Canonical decimal only: "010" is never in an address's text.
            Ok(v) if v.to_string() == *p => octets.push(v),
            _ => return Some(Vec::new()),
        }
    }
    // Values of the next octet whose text begins with `partial`.
    let mut values: Vec<(u8, u8)> = Vec::new();
    if partial.is_empty() {
        values.push((0, 255));
    } else if partial.len() <= 3 && (partial == &"0" || !partial.starts_with('0')) {
        let v: u32 = partial.parse().ok()?;
        // "0" begins only the octet 0 ("05" is never written).
        let widths: &[(u32, u32)] = if v == 0 {
            &[(0, 0)]
        } else {
            &[(v, v), (v * 10, v * 10 + 9), (v * 100, v * 100 + 99)]
        };
        for &(lo, hi) in widths {
            if lo <= 255 {
                values.push((lo as u8, hi.min(255) as u8));
            }
        }
    }
    if octets.len() == 4 {
        // "1.2.3.4." never begins an address's text.
        return Some(Vec::new());
    }
    Some(
        values
            .into_iter()
            .map(|(lo, hi)| {
                let make = |v: u8, fill: u8| {
                    let mut bytes = [fill; 4];
                    bytes[..octets.len()].copy_from_slice(&octets);
                    bytes[octets.len()] = v;
                    Ipv4Addr::from(bytes)
                };
                (make(lo, 0), make(hi, 255))
            })
            .collect(),
    )
}

/// Handle ranges whose decimal text begins with `token`.
fn handle_ranges(token: &str) -> Vec<(u32, u32)> {
    if token.is_empty() || !token.bytes().all(|b| b.is_ascii_digit()) || token.starts_with('0') {
        return Vec::new();
    }
    let Ok(mut lo) = token.parse::<u64>() else {
        return Vec::new();
    };
    let mut width = 1u64;
    let mut out = Vec::new();
    while lo <= u64::from(u32::MAX) {
        let hi = (lo + width - 1).min(u64::from(u32::MAX));
        out.push((lo as u32, hi as u32));
        lo *= 10;
        width *= 10;
    }
    out
}

/// A span of ranks in one column's index.
#[derive(Debug, Clone, Copy)]
struct Span {
    column: Column,
    from: usize,
    to: usize,
}

impl Span {
    fn len(&self) -> usize {
        self.to.saturating_sub(self.from)
    }
}

impl Rows {
    /// Ranks of the entries from `low` (exclusive of anything below it)
    /// through `high` (inclusive); a value column's probes carry handle 0
    /// and u32::MAX, so every handle of the values is inside.
    fn between(&self, column: Column, low: &Values, high: &Values) -> Span {
        Span {
            column,
            from: self.indexes.columns.rank(column, low, false, &self.by_handle),
            to: self.indexes.columns.rank(column, high, true, &self.by_handle),
        }
    }

    /// Entries whose value equals `value`'s in `column` (any handle).
    fn equal(&self, column: Column, value: Values) -> Span {
        let high = Values {
            handle: u32::MAX,
            ..value.clone()
        };
        self.between(column, &value, &high)
    }

    /// Entries whose text column `column` begins with `prefix`.
    fn prefix_span(&self, column: Column, prefix: &str) -> Span {
        let probe = |text: &str| {
            let mut v = Values::default();
            *v.text_mut(column) = text.to_owned();
            v
        };
        let from = self
            .indexes
            .columns
            .rank(column, &probe(prefix), false, &self.by_handle);
        let to = match successor(prefix) {
            Some(next) => self.indexes.columns.rank(column, &probe(&next), false, &self.by_handle),
            None => self.indexes.columns.len(column),
        };
        Span { column, from, to }
    }

    /// The spans whose union is exactly the connections a filter part or
    /// token lets through — None when the indexes cannot say.
    fn constraints(&self, q: &WindowQuery, tokens: &[String]) -> Option<Vec<Vec<Span>>> {
        let mut all = Vec::new();
        let f = &q.filter;
        for (column, value) in [(Column::User, &f.user), (Column::Interface, &f.interface)] {
            if let Some(value) = value {
                let mut probe = Values::default();
                *probe.text_mut(column) = lower(value);
                all.push(vec![self.equal(column, probe)]);
            }
        }
        if let Some(engine) = f.engine {
            let engine = engine.index();
            all.push(vec![self.equal(
                Column::Engine,
                Values {
                    engine,
                    ..Values::default()
                },
            )]);
        }
        for token in tokens {
            if token.contains(':') {
                return None;
            }
            let mut spans: Vec<Span> = [Column::User, Column::Interface, Column::SessionId]
                .into_iter()
                .map(|c| self.prefix_span(c, token))
                .collect();
            for (lo, hi) in ipv4_ranges(token).unwrap_or_default() {
                let at = |a: Ipv4Addr, handle| Values {
                    address: Some(IpAddr::V4(a)),
                    handle,
                    ..Values::default()
                };
                spans.push(self.between(Column::Address, &at(lo, 0), &at(hi, u32::MAX)));
            }
            for (lo, hi) in handle_ranges(token) {
                let at = |handle| Values {
                    handle,
                    ..Values::default()
                };
                spans.push(self.between(Column::Handle, &at(lo), &at(hi)));
            }
            all.push(spans);
        }
        // The instance is not indexed: it can only narrow what another
        // part found.
        if f.instance.is_some() && all.is_empty() {
            return None;
        }
        Some(all)
    }

    /// Handles in a span (ascending rank).
    fn handles(&self, span: Span) -> Vec<u32> {
        self.indexes.columns.window(span.column, span.from, span.len(), false)
    }

    fn record(&self, handle: u32) -> Option<Record> {
        ConnectionHandle::new(handle)
            .and_then(|h| self.by_handle.get(h))
            .map(|r| r.record.clone())
    }

    /// The window from the indexes, or None when a scan must answer.
    fn indexed_window(&self, q: &WindowQuery) -> Option<Window> {
        let total = self.by_handle.len();
        let tokens = tokens(&q.text);
        let constraints = self.constraints(q, &tokens)?;
        let columns = &self.indexes.columns;
        // One exact span in the sort column itself: the window is a slice
        // of it (an unfiltered table is the whole column).
        let only = match constraints.as_slice() {
            _ if !q.sort.is_indexed() => None,
            [] if q.filter.instance.is_none() => Some(Span {
                column: q.sort,
                from: 0,
                to: columns.len(q.sort),
            }),
            [spans]
                if spans.len() == 1
                    && spans[0].column == q.sort
                    && tokens.is_empty()
                    && q.filter.instance.is_none() =>
            {
                Some(spans[0])
            }
            _ => None,
        };
        if let Some(span) = only {
            let matching = span.len();
            let limit = q.limit.min(matching.saturating_sub(q.offset));
            let handles = if limit == 0 {
                Vec::new()
            } else if q.descending {
                columns.window(q.sort, span.to - 1 - q.offset, limit, true)
            } else {
                columns.window(q.sort, span.from + q.offset, limit, false)
            };
            let records = handles.into_iter().filter_map(|h| self.record(h)).collect();
            return Some(Window {
                total,
                matching,
                records,
            });
        }
        // Otherwise the smallest constraint gives the candidates, each
        // checked against the whole query.
        let smallest = constraints
            .iter()
            .min_by_key(|spans| spans.iter().map(Span::len).sum::<usize>())?;
        if smallest.iter().map(Span::len).sum::<usize>() > MAX_CANDIDATES {
            return None;
        }
        let mut candidates: Vec<u32> = smallest.iter().flat_map(|s| self.handles(*s)).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let records = candidates.into_iter().filter_map(|h| self.record(h));
        Some(cut(passing(records, q, &tokens), q, total))
    }
}

/// The records that pass `q`'s filter and `tokens`, each with its values.
fn passing(records: impl Iterator<Item = Record>, q: &WindowQuery, tokens: &[String]) -> Vec<(Values, Record)> {
    let mut scratch = empty_connection();
    let mut kept = Vec::new();
    for record in records {
        if decode_into(record.as_bytes(), &mut scratch).is_err() {
            continue;
        }
        let mut values = Values::default();
        values.fill(&scratch);
        if passes(&values, &scratch, &q.filter, tokens) {
            kept.push((values, record));
        }
    }
    kept
}

/// Sorts what passed and cuts the window out of it.
fn cut(mut kept: Vec<(Values, Record)>, q: &WindowQuery, total: usize) -> Window {
    kept.sort_by(|a, b| {
        let o = a.0.compare(&b.0, q.sort).then(a.0.handle.cmp(&b.0.handle));
        if q.descending {
            o.reverse()
        } else {
            o
        }
    });
    let matching = kept.len();
    let records = kept.into_iter().skip(q.offset).take(q.limit).map(|(_, r)| r).collect();
    Window {
        total,
        matching,
        records,
    }
}

impl ConnectionTable {
    /// The window `q` asks for, from the indexes: O(log n + rows) for no
    /// filter or one on the sort column, O(candidates) for a narrow filter
    /// or search. None when the indexes cannot answer (a broad or
    /// unindexed filter, an IPv6 search): then [`scan_window`](Self::scan_window).
    pub fn window(&self, q: &WindowQuery) -> Option<Window> {
        self.rows.read().indexed_window(q)
    }

    /// The window `q` asks for, by decoding every record (the read lock is
    /// held only to take the records).
    pub fn scan_window(&self, q: &WindowQuery) -> Window {
        let records = self.records();
        let total = records.len();
        cut(passing(records.into_iter(), q, &tokens(&q.text)), q, total)
    }

    /// Running totals over the live connections (kept from each change).
    pub fn totals(&self) -> Totals {
        self.rows.read().indexes.totals
    }

    /// Heap bytes of the column indexes (for the memory budget).
    pub fn index_bytes(&self) -> usize {
        self.rows.read().indexes.columns.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_prefixes_become_ranges() {
        let r = |t: &str| {
            ipv4_ranges(t)
                .unwrap()
                .into_iter()
                .map(|(a, b)| format!("{a}-{b}"))
                .collect::<Vec<_>>()
        };
        assert_eq!(r("10.1.2."), ["10.1.2.0-10.1.2.255"]);
        assert_eq!(
            r("10.1.2"),
            [
                "10.1.2.0-10.1.2.255",
                "10.1.20.0-10.1.29.255",
                "10.1.200.0-10.1.255.255"
            ]
        );
        assert_eq!(r("10.1.2.0"), ["10.1.2.0-10.1.2.0"]);
        assert_eq!(
            r("1"),
            [
                "1.0.0.0-1.255.255.255",
                "10.0.0.0-19.255.255.255",
                "100.0.0.0-199.255.255.255"
            ]
        );
        assert_eq!(r("0"), ["0.0.0.0-0.255.255.255"]);
        assert!(r("01").is_empty() && r("10.01").is_empty() && r("1.2.3.4.").is_empty() && r("300").is_empty());
        assert!(ipv4_ranges("alice").is_none());
        assert_eq!(handle_ranges("42")[..3], [(42, 42), (420, 429), (4200, 4299)]);
        assert!(handle_ranges("0").is_empty() && handle_ranges("4294967296").is_empty());
        assert_eq!(successor("ab").as_deref(), Some("ac"));
        assert_eq!(successor("").as_deref(), None);
    }
}
