//! The console's History and Reports: the accounting history filtered as
//! `rasctl history` filters it (user, address at an instant or over a
//! range, NAS, engine, instance), paged by cursor, downloadable as the
//! same CSV; and the usage report of a period (docs/history.md). Readers
//! may look at both.

use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rras_core::usage::{TopBy, UsageTotals};
use rras_core::{HistoryQuery, Win32Error};
use serde::Deserialize;
use serde_json::{json, Value};

use super::api::{api_error, require};
use super::rows::{row, unix};
use super::WebState;

/// Entries one page may ask for.
const MAX_PAGE: usize = 1_000;
/// Lines one CSV download holds at most.
const MAX_CSV: usize = 100_000;
/// The longest period a report covers, in days.
const MAX_REPORT_DAYS: u64 = 3_660;

/// The History and Reports API (the pages themselves are the one shell
/// `api.rs` serves).
pub(super) fn router(state: WebState) -> axum::Router {
    axum::Router::new()
        .route("/api/history", axum::routing::get(history))
        .route("/api/history.csv", axum::routing::get(history_csv))
        .route("/api/usage", axum::routing::get(usage))
        .with_state(state)
}

/// The filters, as the page's form sends them: times in unix seconds.
#[derive(Debug, Default, Deserialize)]
pub(super) struct HistoryParams {
    user: Option<String>,
    ip: Option<String>,
    at: Option<u64>,
    since: Option<u64>,
    until: Option<u64>,
    nas: Option<String>,
    engine: Option<String>,
    instance: Option<String>,
    before: Option<u64>,
    limit: Option<usize>,
    live: Option<bool>,
}

/// A time the browser sent (unix seconds): past the year 9999 is None.
fn time(secs: u64) -> Option<SystemTime> {
    rras_core::engine_time::from_unix(secs, 0)
}

impl HistoryParams {
    /// The query, or a 400 naming what does not parse.
    #[allow(clippy::result_large_err)]
    fn query(&self) -> Result<HistoryQuery, Response> {
        let text = |s: &Option<String>| s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned);
        let bad = |what: &str| {
            (
                StatusCode::BAD_REQUEST,
                Json(json!({ "status": Win32Error::InvalidParameter.code(), "message": what })),
            )
                .into_response()
        };
        let address = match text(&self.ip) {
            Some(ip) => Some(ip.parse().map_err(|_| bad("not an IP address"))?),
            None => None,
        };
        let engine = match text(&self.engine) {
            Some(e) => Some(e.parse().map_err(|_| bad("no such engine"))?),
            None => None,
        };
        let when = |t: Option<u64>| match t {
            None => Ok(None),
            Some(s) => time(s).map(Some).ok_or_else(|| bad("a time out of range")),
        };
        let query = HistoryQuery {
            user: text(&self.user),
            address,
            from: when(self.since)?,
            to: when(self.until)?,
            nas: text(&self.nas),
            engine,
            instance: text(&self.instance),
        };
        Ok(match when(self.at)? {
            Some(at) => query.at(at),
            None => query,
        })
    }
}

/// Runs a store read off the console's thread; its failure is the API's
/// error.
#[allow(clippy::result_large_err)]
async fn read<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, rras_store::StoreError> + Send + 'static,
) -> Result<T, Response> {
    match tokio::task::spawn_blocking(work).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(api_error(StatusCode::INTERNAL_SERVER_ERROR, e.win32())),
        Err(_) => Err(api_error(StatusCode::INTERNAL_SERVER_ERROR, Win32Error::RpcCallFailed)),
    }
}

/// The signed-in caller's query, or the response refusing it.
#[allow(clippy::result_large_err)]
fn checked(state: &WebState, headers: &HeaderMap, p: &HistoryParams) -> Result<HistoryQuery, Response> {
    require(state, headers)?;
    p.query()
}

/// An ended connection as the console's row.
fn ended_row(seq: u64, e: &rras_core::EndedConnection) -> Value {
    let mut r = row(&e.connection, e.ended_at);
    r["seq"] = json!(seq);
    r["ended_at"] = json!(unix(e.ended_at));
    r["reason"] = json!(e.reason);
    r
}

/// One page of the history (and, on the first page when asked, the live
/// connections that match).
async fn history(State(state): State<WebState>, headers: HeaderMap, Query(p): Query<HistoryParams>) -> Response {
    let query = match checked(&state, &headers, &p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let limit = p.limit.unwrap_or(200).clamp(1, MAX_PAGE);
    let manager = state.manager.clone();
    let (before, live) = (p.before, p.live.unwrap_or(false) && p.before.is_none());
    let read = read(move || {
        let page = manager.store().history_query(&query, before, limit)?;
        let live = if live {
            manager.live_matching(&query, limit)
        } else {
            Vec::new()
        };
        Ok((page, live))
    })
    .await;
    match read {
        Ok((page, live)) => {
            let now = SystemTime::now();
            Json(json!({
                "rows": page.entries.iter().map(|(seq, e)| ended_row(*seq, e)).collect::<Vec<_>>(),
                "live": live.iter().map(|c| row(c, now)).collect::<Vec<_>>(),
                "next": page.next,
            }))
            .into_response()
        }
        Err(r) => r,
    }
}

/// The same filters as a CSV download (`rras_core::csv`, as `rasctl
/// history --csv` writes it), live connections first when asked, at most
/// [`MAX_CSV`] lines.
async fn history_csv(State(state): State<WebState>, headers: HeaderMap, Query(p): Query<HistoryParams>) -> Response {
    use rras_core::csv::{history_cells, line, HISTORY_HEADER};
    let query = match checked(&state, &headers, &p) {
        Ok(q) => q,
        Err(r) => return r,
    };
    let manager = state.manager.clone();
    let live = p.live.unwrap_or(false);
    let built = read(move || {
        let now = SystemTime::now();
        let mut out = String::new();
        let mut push = |cells: &[String]| {
            out.push_str(&line(cells));
            out.push_str("\r\n");
        };
        push(&HISTORY_HEADER.map(str::to_owned));
        let mut lines = 0;
        if live {
            for c in manager.live_matching(&query, MAX_CSV) {
                push(&history_cells(&c, None, now));
                lines += 1;
            }
        }
        let mut before = None;
        // Bounded: every round adds entries or moves the cursor down.
        while lines < MAX_CSV {
            let page = manager
                .store()
                .history_query(&query, before, MAX_PAGE.min(MAX_CSV - lines))?;
            for (_, e) in &page.entries {
                push(&history_cells(
                    &e.connection,
                    Some((e.ended_at, e.reason.as_str())),
                    now,
                ));
                lines += 1;
            }
            match page.next {
                Some(next) if Some(next) != before => before = Some(next),
                _ => break,
            }
        }
        Ok(out)
    })
    .await;
    match built {
        Ok(csv) => (
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (header::CONTENT_DISPOSITION, "attachment; filename=\"history.csv\""),
            ],
            csv,
        )
            .into_response(),
        Err(r) => r,
    }
}

/// The report's period and ranking.
#[derive(Debug, Deserialize)]
pub(super) struct UsageParams {
    since: u64,
    until: Option<u64>,
    top: Option<usize>,
    by: Option<String>,
}

fn totals(t: &UsageTotals) -> Value {
    json!({
        "sessions": t.sessions, "unique_users": t.unique_users, "duration_secs": t.duration_secs,
        "average_duration_secs": t.average_duration_secs(), "bytes_in": t.bytes_in, "bytes_out": t.bytes_out,
    })
}

/// The usage report of a period (times in unix seconds).
async fn usage(State(state): State<WebState>, headers: HeaderMap, Query(p): Query<UsageParams>) -> Response {
    if let Err(r) = require(&state, &headers) {
        return r;
    }
    let now = SystemTime::now();
    let (Some(from), Some(to)) = (time(p.since), p.until.map_or(Some(now), time)) else {
        return api_error(StatusCode::BAD_REQUEST, Win32Error::InvalidParameter);
    };
    let days = to.duration_since(from).map(|d| d.as_secs() / 86_400);
    if !days.is_ok_and(|d| d <= MAX_REPORT_DAYS) {
        return api_error(StatusCode::BAD_REQUEST, Win32Error::InvalidParameter);
    }
    let by = if p.by.as_deref() == Some("time") {
        TopBy::Time
    } else {
        TopBy::Bytes
    };
    let top = p.top.unwrap_or(10).clamp(1, 100);
    let manager = state.manager.clone();
    match read(move || manager.usage(from, to, now, top, by)).await {
        Ok(r) => Json(json!({
            "from": unix(r.from),
            "to": unix(r.to),
            "totals": totals(&r.totals),
            "average_sessions_per_day": r.average_sessions_per_day,
            "max_concurrent": r.max_concurrent,
            "max_concurrent_at": r.max_concurrent_at.map(unix),
            "per_engine": r.per_engine.iter().map(|(e, t)| json!({ "engine": e.as_str(), "totals": totals(t) })).collect::<Vec<_>>(),
            "top_users": r.top_users.iter().map(|u| json!({ "user": u.user, "totals": totals(&u.totals) })).collect::<Vec<_>>(),
            "per_day": r.per_day.iter().map(|d| json!({ "day": d.day, "totals": totals(&d.totals) })).collect::<Vec<_>>(),
        }))
        .into_response(),
        Err(r) => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_that_do_not_parse_are_refused_not_a_panic() {
        let ok = HistoryParams {
            user: Some(" alice ".into()),
            ip: Some("10.1.2.3".into()),
            at: Some(1_800_000_000),
            ..HistoryParams::default()
        };
        let q = ok.query().map_err(|_| "refused").unwrap();
        assert_eq!(q.user.as_deref(), Some("alice"));
        assert_eq!(q.from, q.to);
        for bad in [
            HistoryParams {
                ip: Some("10.1.2.300".into()),
                ..HistoryParams::default()
            },
            HistoryParams {
                engine: Some("pptp".into()),
                ..HistoryParams::default()
            },
            // Past what a SystemTime holds: it panicked in the fleet's
            // twin of this parser before rras-fuzz found it there.
            HistoryParams {
                since: Some(u64::MAX),
                ..HistoryParams::default()
            },
            HistoryParams {
                at: Some(9_223_372_036_854_775_808),
                ..HistoryParams::default()
            },
        ] {
            assert_eq!(
                bad.query().map(|_| ()).map_err(|r| r.status()),
                Err(StatusCode::BAD_REQUEST)
            );
        }
    }
}
