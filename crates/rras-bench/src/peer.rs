//! The peer: FreeRADIUS + PostgreSQL `radacct`, as `bench/peer-setup.sh`
//! leaves it (its `env` file says where). Queried through `psql`, the way
//! an operator (or daloRADIUS' "online users") asks "who is online?".

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::radload::percentile;

/// Where the peer runs.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) dir: PathBuf,
    pub(crate) pg_port: u16,
    pub(crate) acct_port: u16,
    pub(crate) secret: String,
}

/// The columns daloRADIUS' online list shows.
const ONLINE_COLUMNS: &str = "radacctid, username, nasipaddress, nasportid, framedipaddress, callingstationid, \
                              acctstarttime, acctsessiontime, acctinputoctets, acctoutputoctets";

/// (p50, p99) in ms of what psql's `\timing` printed.
fn timings(printed: &str) -> anyhow::Result<(f64, f64)> {
    let mut ms: Vec<f64> = printed
        .lines()
        .filter_map(|l| l.strip_prefix("Time: "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|v| v.parse().ok())
        .collect();
    ms.sort_by(|a, b| a.total_cmp(b));
    anyhow::ensure!(!ms.is_empty(), "psql printed no timings");
    Ok((percentile(&ms, 50.0), percentile(&ms, 99.0)))
}

/// A window's name and its p50 and p99 in ms.
pub(crate) type TimedWindow = (String, f64, f64);

impl Peer {
    /// Reads `DIR/env`; None when the peer is not set up.
    pub(crate) fn find(dir: &Path) -> Option<Peer> {
        let text = std::fs::read_to_string(dir.join("env")).ok()?;
        let get = |k: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("{k}=")).map(str::to_owned))
        };
        Some(Peer {
            dir: dir.to_owned(),
            pg_port: get("PEER_PG_PORT")?.parse().ok()?,
            acct_port: get("PEER_ACCT_PORT")?.parse().ok()?,
            secret: get("PEER_SECRET")?,
        })
    }

    fn psql(&self) -> Command {
        let mut c = Command::new("psql");
        c.args([
            "-h",
            "127.0.0.1",
            "-p",
            &self.pg_port.to_string(),
            "-U",
            "postgres",
            "-d",
            "radius",
        ])
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-X"]);
        c
    }

    fn run(&self, mut c: Command) -> anyhow::Result<String> {
        let out = c.stderr(Stdio::piped()).output().context("running psql")?;
        if !out.status.success() {
            anyhow::bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs a `\\timing on` script; (p50, p99) in ms of the times psql
    /// printed.
    pub(crate) fn timed(&self, script: &str) -> anyhow::Result<(f64, f64)> {
        timings(&self.sql(script)?)
    }

    /// Runs SQL text from standard input.
    pub(crate) fn sql(&self, text: &str) -> anyhow::Result<String> {
        let mut c = self.psql();
        c.args(["-f", "-"]).stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = c.stderr(Stdio::piped()).spawn().context("running psql")?;
        // Fed from a thread while this one reads: a long script's output
        // (10,000 timed queries) fills the pipe before psql has read it all.
        let mut stdin = child.stdin.take().context("psql stdin")?;
        let text = text.to_owned();
        let feeder = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
        let out = child.wait_with_output()?;
        feeder
            .join()
            .map_err(|_| anyhow::anyhow!("the thread feeding psql failed"))?
            .context("writing to psql")?;
        if !out.status.success() {
            anyhow::bail!("psql failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Empties `radacct` and fills it, server-side, with `live` open
    /// sessions interleaved with `closed_per_live` closed ones each (a
    /// long-lived radacct looks like that), the same users, NASes and
    /// addresses the RADIUS load sends; then VACUUM ANALYZE.
    pub(crate) fn load(&self, live: u64, closed_per_live: u64) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let per = closed_per_live + 1;
        let total = live * per;
        self.sql(&format!(
            "TRUNCATE radacct;
             INSERT INTO radacct (acctsessionid, acctuniqueid, username, realm, nasipaddress, nasportid,
                                  nasporttype, acctstarttime, acctupdatetime, acctstoptime, acctinterval,
                                  acctsessiontime, acctauthentic, connectinfo_start, acctinputoctets,
                                  acctoutputoctets, calledstationid, callingstationid, acctterminatecause,
                                  servicetype, framedprotocol, framedipaddress)
             SELECT lpad(to_hex(g / {per}), 16, '0') || CASE WHEN g % {per} = 0 THEN '' ELSE '-' || (g % {per}) END,
                    md5(g::text),
                    'user' || lpad((g / {per})::text, 7, '0') || '@corp.example', 'corp.example',
                    ('127.0.0.' || (1 + (g / {per}) % 4))::inet, ((g / {per}) % 4096)::text, 'Virtual',
                    now() - interval '1 hour', now(),
                    CASE WHEN g % {per} = 0 THEN NULL ELSE now() - interval '10 minutes' END,
                    600, 3600, 'RADIUS', '', g * 7919 % 4294967296, g * 104729 % 4294967296, '',
                    '198.51.' || ((g / {per}) >> 8) % 256 || '.' || (g / {per}) % 256,
                    CASE WHEN g % {per} = 0 THEN '' ELSE 'User-Request' END, 'Framed-User', 'PPP',
                    ('10.0.0.0'::inet + ((g / {per}) % 16777216))
             FROM generate_series(0::bigint, {last}::bigint - 1) AS g;
             VACUUM ANALYZE radacct;
             CHECKPOINT;",
            last = total
        ))?;
        Ok(started.elapsed())
    }

    /// Live rows now (a check that the load and the listing agree).
    pub(crate) fn live_rows(&self) -> anyhow::Result<u64> {
        let out = self.run({
            let mut c = self.psql();
            c.args([
                "-A",
                "-t",
                "-c",
                "SELECT count(*) FROM radacct WHERE acctstoptime IS NULL",
            ]);
            c
        })?;
        Ok(out.trim().parse()?)
    }

    /// The online list: `\copy (…) TO '/dev/null'` and through `psql -A -t`
    /// (rows to a pipe), best of `rounds`; seconds each.
    pub(crate) fn online_list(&self, rounds: usize) -> anyhow::Result<(f64, f64)> {
        let query = format!("SELECT {ONLINE_COLUMNS} FROM radacct WHERE acctstoptime IS NULL");
        let mut copy = f64::MAX;
        let mut plain = f64::MAX;
        for _ in 0..rounds {
            let t = Instant::now();
            self.run({
                let mut c = self.psql();
                c.args(["-c", &format!("\\copy ({query}) TO '/dev/null'")]);
                c
            })?;
            copy = copy.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            self.run({
                let mut c = self.psql();
                c.args(["-A", "-t", "-c", &query]).stdout(Stdio::piped());
                c
            })?;
            plain = plain.min(t.elapsed().as_secs_f64());
        }
        Ok((copy, plain))
    }

    /// One 100-row keyset page from the middle of the live rows, `pages`
    /// times in one session; (p50, p99) in ms as psql's \timing sees them.
    pub(crate) fn keyset_pages(&self, pages: usize) -> anyhow::Result<(f64, f64)> {
        let mid: u64 = self
            .run({
                let mut c = self.psql();
                c.args([
                    "-A",
                    "-t",
                    "-c",
                    "SELECT radacctid FROM radacct WHERE acctstoptime IS NULL ORDER BY radacctid \
                     OFFSET (SELECT count(*) / 2 FROM radacct WHERE acctstoptime IS NULL) LIMIT 1",
                ]);
                c
            })?
            .trim()
            .parse()
            .unwrap_or(0);
        let mut script = String::from("\\timing on\n\\o /dev/null\n");
        for i in 0..pages {
            // Walk forward page by page like a resume handle would, wrapping.
            script.push_str(&format!(
                "SELECT {ONLINE_COLUMNS} FROM radacct WHERE acctstoptime IS NULL AND radacctid > {} \
                 ORDER BY radacctid LIMIT 100;\n",
                mid + (i as u64 % 1000) * 400
            ));
        }
        timings(&self.sql(&script)?).context("the keyset pages")
    }

    /// The console's windows as SQL over the live rows of `radacct`, with
    /// a partial index per column (the fairest peer: each window can be
    /// read from an index): (name, p50 ms, p99 ms) as psql's `\timing`
    /// sees them, `repeat` times each in one session; and how long building
    /// the indexes took.
    pub(crate) fn console_windows(
        &self,
        live: u64,
        rows: usize,
        repeat: usize,
        user: &str,
    ) -> anyhow::Result<(Vec<TimedWindow>, Duration)> {
        let built = Instant::now();
        self.sql(
            "CREATE INDEX IF NOT EXISTS console_user ON radacct (username, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_user_prefix ON radacct (username text_pattern_ops) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_address ON radacct (framedipaddress, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_nas ON radacct (nasipaddress, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_port ON radacct (nasportid, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_started ON radacct (acctstarttime, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_rx ON radacct (acctinputoctets, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_tx ON radacct (acctoutputoctets, radacctid) WHERE acctstoptime IS NULL;
             CREATE INDEX IF NOT EXISTS console_id ON radacct (radacctid) WHERE acctstoptime IS NULL;
             VACUUM ANALYZE radacct;",
        )?;
        let built = built.elapsed();
        let live_rows = "FROM radacct WHERE acctstoptime IS NULL";
        let mut queries: Vec<(String, String)> = Vec::new();
        for (name, column) in [
            ("handle", "radacctid"),
            ("user", "username"),
            ("address", "framedipaddress"),
            ("engine", "nasipaddress"),
            ("interface", "nasportid"),
            ("duration", "acctstarttime"),
            ("rx", "acctinputoctets"),
            ("tx", "acctoutputoctets"),
        ] {
            for dir in ["ASC", "DESC"] {
                let tie = if column == "radacctid" {
                    String::new()
                } else {
                    format!(", radacctid {dir}")
                };
                queries.push((
                    format!("first {rows} by {name} {}", dir.to_lowercase()),
                    format!("SELECT {ONLINE_COLUMNS} {live_rows} ORDER BY {column} {dir}{tie} LIMIT {rows}"),
                ));
            }
        }
        queries.push((
            format!("{rows} at offset {} by address", live / 2),
            format!(
                "SELECT {ONLINE_COLUMNS} {live_rows} ORDER BY framedipaddress, radacctid OFFSET {} LIMIT {rows}",
                live / 2
            ),
        ));
        queries.push((
            format!("search one user ({user})"),
            format!("SELECT {ONLINE_COLUMNS} {live_rows} AND username LIKE '{user}%' ORDER BY username LIMIT {rows}"),
        ));
        queries.push((
            "search an address prefix (10.0.1.)".into(),
            format!(
                "SELECT {ONLINE_COLUMNS} {live_rows} AND framedipaddress >= '10.0.1.0' AND framedipaddress <= '10.0.1.255' \
                 ORDER BY framedipaddress LIMIT {rows}"
            ),
        ));
        let mut out = Vec::new();
        for (name, query) in queries {
            let mut script = String::from("\\timing on\n\\o /dev/null\n");
            for _ in 0..repeat {
                script.push_str(&query);
                script.push_str(";\n");
            }
            let (p50, p99) = timings(&self.sql(&script)?).with_context(|| name.clone())?;
            out.push((name, p50, p99));
        }
        Ok((out, built))
    }

    /// Bytes of `radacct` (heap + indexes).
    pub(crate) fn table_bytes(&self) -> anyhow::Result<u64> {
        let out = self.run({
            let mut c = self.psql();
            c.args(["-A", "-t", "-c", "SELECT pg_total_relation_size('radacct')"]);
            c
        })?;
        Ok(out.trim().parse()?)
    }
}
