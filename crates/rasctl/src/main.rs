//! `rasctl`: everyday administration of rrasd.

mod demo;
mod fleet;
mod history;
mod json_stream;
mod output;
mod ports;
mod report;
mod token;
mod usage;
mod watch;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

use rras_client::{AdminClient, ClientError, ServerAddr, TlsOptions, WatchFilter};
use rras_core::{Connection, EngineKind};

use crate::output::{connection_details, connections_table, write_json_line, ConnectionJson};

#[derive(Debug, Parser)]
#[command(
    name = "rasctl",
    version = rras_core::VERSION,
    about = "Administer rrasd: list, inspect and hang up VPN connections",
    after_help = "Warnings (a fleet read retried while a NATS server rejoins …) go to stderr; \
                  RUST_LOG=debug shows more, RUST_LOG=error hides them."
)]
struct Cli {
    /// Server: unix:PATH, a socket path, or HOST / HOST:PORT over TLS
    /// [default: $RRAS_ADMIN_SOCKET or /run/rrasd/admin.sock].
    #[arg(long, global = true, default_value = "")]
    server: String,
    /// CA that signed the server's certificate (TLS) [env: RRAS_TLS_CA].
    #[arg(long, global = true, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// Client certificate for TLS [env: RRAS_TLS_CERT].
    #[arg(long, global = true, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// Client key for TLS [env: RRAS_TLS_KEY].
    #[arg(long, global = true, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// File holding a bearer token (TLS) [env: RRAS_TOKEN_FILE].
    #[arg(long, global = true, value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// A column to sort by, each in the order an admin first wants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SortField {
    /// Handle, lowest first.
    Handle,
    /// User name, A to Z (without case).
    User,
    /// Connected for, longest first.
    Duration,
    /// Bytes both ways, most first.
    Bytes,
    /// Bytes received, most first.
    Rx,
    /// Bytes sent, most first.
    Tx,
    /// Engine, by name.
    Engine,
    /// Client address, lowest first (IPv4, then IPv6).
    Address,
    /// Interface, A to Z.
    Interface,
}

impl SortField {
    /// The daemon's column and whether its order is descending.
    fn column(self) -> (&'static str, bool) {
        match self {
            SortField::Handle => ("handle", false),
            SortField::User => ("user", false),
            SortField::Duration => ("started", false),
            SortField::Bytes => ("bytes", true),
            SortField::Rx => ("rx", true),
            SortField::Tx => ("tx", true),
            SortField::Engine => ("engine", false),
            SortField::Address => ("address", false),
            SortField::Interface => ("interface", false),
        }
    }
}

/// Which connections a listing or a watch is about (applied by the daemon
/// for watches; every given part must match).
#[derive(Debug, clap::Args)]
struct FilterArgs {
    /// Only this user.
    #[arg(long)]
    user: Option<String>,
    /// Only this engine.
    #[arg(long)]
    engine: Option<EngineKind>,
    /// Only sessions of this source instance (its configured `name`; a
    /// default instance is named after its engine).
    #[arg(long)]
    instance: Option<String>,
    /// Only sessions on this interface (ppp5, wg0 …).
    #[arg(long)]
    interface: Option<String>,
}

impl From<FilterArgs> for WatchFilter {
    fn from(f: FilterArgs) -> Self {
        WatchFilter {
            user: f.user,
            engine: f.engine,
            instance: f.instance,
            interface: f.interface,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// List active connections (MprAdminConnectionEnumEx).
    Connections {
        /// Stable JSON (see docs/rasctl-json.md): an array, streamed in
        /// enumeration order unless --sort is given.
        #[arg(long, conflicts_with = "jsonl")]
        json: bool,
        /// One JSON object per line, streamed (for jq, log shippers, and a
        /// million sessions in constant memory).
        #[arg(long)]
        jsonl: bool,
        #[command(flatten)]
        filter: FilterArgs,
        /// Sort order [default: handle; JSON: the server's enumeration order,
        /// streamed]. Sorted, filtered and searched listings come from the
        /// daemon's indexes, in windows of up to 10,000: under churn a row
        /// can shift between two windows (the plain listing, without these
        /// options, is exactly once).
        #[arg(long, value_enum)]
        sort: Option<SortField>,
        /// The other way round.
        #[arg(long)]
        reverse: bool,
        /// Only connections where every word begins the user name,
        /// interface, session id, address or handle (without case).
        #[arg(long, value_name = "WORDS")]
        search: Option<String>,
        /// Skip this many (after filtering and sorting).
        #[arg(long, value_name = "N", default_value_t = 0)]
        offset: u64,
        /// At most this many.
        #[arg(long, value_name = "N")]
        limit: Option<u64>,
        /// Keep the table live from the daemon's change feed (no
        /// re-listing), redrawn at most every SECS seconds [default: 1],
        /// until Ctrl-C. For a stream of JSON changes use `rasctl events`.
        #[arg(long, value_name = "SECS", num_args = 0..=1, default_missing_value = "1",
              value_parser = clap::value_parser!(u64).range(1..=86_400),
              conflicts_with_all = ["json", "jsonl", "sort"])]
        watch: Option<u64>,
    },
    /// Print changes as they happen (starts, updates, ends) from the
    /// daemon's change feed, until Ctrl-C.
    Events {
        /// One JSON object per line (see docs/rasctl-json.md).
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        filter: FilterArgs,
        /// Resume after this revision (a listing's, or the last one
        /// printed) instead of starting now.
        #[arg(long, value_name = "REVISION")]
        from: Option<u64>,
    },
    /// Show one connection (MprAdminConnectionGetInfoEx).
    Connection {
        /// Connection handle.
        id: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// List ports (MprAdminPortEnum): one virtual port per live connection.
    Ports {
        /// Stable JSON (see docs/rasctl-json.md), streamed page by page.
        #[arg(long)]
        json: bool,
        /// Only the port of this connection handle.
        #[arg(long, value_name = "HANDLE")]
        connection: Option<u32>,
    },
    /// Show one port at levels 0 and 1 (MprAdminPortGetInfo).
    Port {
        /// Port handle (the same number as its connection's handle).
        id: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Hang a connection up through its engine.
    Disconnect {
        /// Connection handle.
        id: u32,
    },
    /// Zero a connection's counters (MprAdminConnectionClearStats).
    ClearStats {
        /// Connection handle.
        id: u32,
    },
    /// Server state, version, uptime and counts (MprAdminServerGetInfo).
    Server {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// The accounting history, newest first: who had an address at an
    /// instant (--ip --at), a user's sessions (--user), a NAS's, a time
    /// range; as a table, --json, --jsonl or --csv.
    History(history::HistoryArgs),
    /// What a period's sessions add up to: sessions, unique users,
    /// sessions per day, the most at once and when, time and bytes; per
    /// engine, the top users and per day (table, --json, --csv).
    Usage(usage::UsageArgs),
    /// The audit trail: state-changing and denied calls (admin role).
    Audit {
        /// How many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Make a bearer token for remote admin (prints it and its tokens-file line).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Message text of a Win32 code (MprAdminGetErrorString).
    Error {
        /// The code.
        code: u32,
    },
    /// Many rrasd servers in one view, from NATS JetStream: connections,
    /// nodes, and disconnect on whichever node has the connection.
    #[command(subcommand)]
    Fleet(fleet::FleetCommand),
    /// Report a session event (for hook scripts; needs the admin role).
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the rasctl(1) manual page (roff).
    #[command(hide = true)]
    Man,
    /// Run rrasd in-process with demo sessions and show what an admin sees.
    Demo {
        /// Keep running and refreshing until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// A new random token for NAME with ROLE.
    New {
        /// Who the token is for (shown in the audit trail).
        #[arg(long)]
        name: String,
        /// admin or reader.
        #[arg(long, value_parser = ["admin", "reader"])]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings on the way to an answer (a fleet read retried while a NATS
    // server rejoins …) go to stderr; RUST_LOG=debug shows more.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rasctl: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            match e.downcast_ref::<ClientError>() {
                Some(c) => eprintln!(
                    "rasctl: error {}: {}",
                    c.code(),
                    rras_core::display::Escaped(&c.to_string())
                ),
                None => eprintln!("rasctl: {}", rras_core::display::Escaped(&format!("{e:#}"))),
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    if let Command::Completions { shell } = cli.command {
        use clap::CommandFactory;
        clap_complete::generate(shell, &mut Cli::command(), "rasctl", &mut std::io::stdout());
        return Ok(());
    }
    if let Command::Man = cli.command {
        use clap::CommandFactory;
        clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
        return Ok(());
    }
    if let Command::Fleet(command) = cli.command {
        return fleet::run(command).await;
    }
    if let Command::Demo { watch } = cli.command {
        return demo::run(watch).await;
    }
    if let Command::Error { code } = cli.command {
        return match rras_core::error::error_string(code) {
            Ok(m) => {
                println!("{code}: {m}");
                Ok(())
            }
            Err(e) => Err(ClientError::Status(e.code()).into()),
        };
    }
    if let Command::Token(TokenCommand::New { name, role }) = &cli.command {
        let token = token::generate()?;
        println!("token: {token}");
        println!("tokens-file line: {name} {role} {}", token::hash(&token));
        return Ok(());
    }
    let mut tls = TlsOptions::from_env()?;
    if cli.ca.is_some() {
        tls.ca = cli.ca.clone();
    }
    if cli.cert.is_some() {
        tls.cert = cli.cert.clone();
        tls.key = cli.key.clone();
    }
    if let Some(file) = &cli.token_file {
        tls.token = Some(rras_client::read_token_file(file)?);
    }
    let client = AdminClient::connect_addr_with(&ServerAddr::parse(&cli.server)?, &tls).await?;
    let result = command(&client, cli.command).await;
    // Free the session's cursors even when the command failed.
    let _ = client.disconnect_session().await;
    result
}

async fn command(client: &AdminClient, command: Command) -> anyhow::Result<()> {
    match command {
        Command::Connections {
            json,
            jsonl,
            filter,
            sort,
            reverse,
            search,
            offset,
            limit,
            watch,
        } => {
            let filter = WatchFilter::from(filter);
            if let Some(secs) = watch {
                if sort.is_some() || search.is_some() || limit.is_some() || offset > 0 || reverse {
                    anyhow::bail!(
                        "--watch shows every matching connection: no --sort, --search, --offset, --limit or --reverse"
                    );
                }
                return watch::live_table(client, filter, Duration::from_secs(secs)).await;
            }
            let windowed = sort.is_some() || search.is_some() || limit.is_some() || offset > 0 || reverse;
            if (json || jsonl) && !windowed {
                return json_stream::stream_json(client, filter, jsonl).await;
            }
            let (list, matching) = if windowed {
                let (column, descending) = sort.unwrap_or(SortField::Handle).column();
                windows(
                    client,
                    &filter,
                    column,
                    descending != reverse,
                    search.unwrap_or_default(),
                    offset,
                    limit,
                )
                .await?
            } else {
                let mut list = fetch(client).await?;
                list.retain(|c: &Connection| filter.matches(c));
                let n = list.len() as u64;
                (list, n)
            };
            let now = SystemTime::now();
            if jsonl {
                let mut out = std::io::BufWriter::new(std::io::stdout().lock());
                for c in &list {
                    write_json_line(&mut out, c, now)?;
                }
                std::io::Write::flush(&mut out)?;
            } else if json {
                let rows: Vec<_> = list.iter().map(|c| ConnectionJson::new(c, now)).collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{}", connections_table(&list, now));
                if matching > list.len() as u64 {
                    println!("{} of {matching} connection(s)", list.len());
                } else {
                    println!("{} connection(s)", list.len());
                }
            }
            Ok(())
        }
        Command::Events { json, filter, from } => watch::events(client, filter.into(), from, json).await,
        Command::Connection { id, json } => {
            let c = client.connection(id).await?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&ConnectionJson::new(&c, SystemTime::now()))?
                );
            } else {
                print!("{}", connection_details(&c, SystemTime::now()));
            }
            Ok(())
        }
        Command::Ports { json, connection } => ports::list(client, connection, json).await,
        Command::Port { id, json } => ports::show(client, id, json).await,
        Command::Disconnect { id } => {
            client.disconnect(id).await?;
            println!("connection {id} disconnected");
            Ok(())
        }
        Command::ClearStats { id } => {
            client.clear_stats(id).await?;
            println!("counters of connection {id} cleared");
            Ok(())
        }
        Command::Server { json } => {
            let info = client.server_info().await?;
            if json {
                let engines: serde_json::Map<_, _> =
                    info.per_engine.iter().map(|(e, n)| (e.clone(), (*n).into())).collect();
                let sources: Vec<_> = info
                    .sources
                    .iter()
                    .map(|h| {
                        serde_json::json!({
                            "kind": h.kind, "name": h.name, "state": h.state, "sessions": h.sessions,
                            "last_ok": h.last_ok.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                            "last_error": h.last_error,
                            "last_error_at": h.last_error_at.map(|t| humantime::format_rfc3339_seconds(t).to_string()),
                            "restarts": h.restarts,
                        })
                    })
                    .collect();
                let v = serde_json::json!({
                    "version": info.version, "state": info.state, "uptime_secs": info.uptime_secs,
                    "node_id": info.node_id,
                    "connections": info.total_connections, "per_engine": engines, "open_cursors": info.open_cursors,
                    "sources": sources,
                });
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                println!(
                    "rrasd {}  state: {}  uptime: {}s",
                    info.version, info.state, info.uptime_secs
                );
                println!("node: {}", info.node_id);
                println!("connections: {}", info.total_connections);
                for (e, n) in &info.per_engine {
                    println!("  {e:<11} {n}");
                }
                if !info.sources.is_empty() {
                    println!("sources:");
                    for h in &info.sources {
                        let last_ok = h
                            .last_ok
                            .map_or("never".to_owned(), |t| humantime::format_rfc3339_seconds(t).to_string());
                        println!(
                            "  {:<10} {:<16} {:<11} sessions {:<8} last ok {}  restarts {}",
                            h.kind, h.name, h.state, h.sessions, last_ok, h.restarts
                        );
                        if !h.last_error.is_empty() {
                            println!("      last error: {}", rras_core::display::Escaped(&h.last_error));
                        }
                    }
                }
            }
            Ok(())
        }
        Command::History(args) => history::run(client, &args).await,
        Command::Usage(args) => usage::run(client, &args).await,
        Command::Report(cmd) => {
            let results = client.report(vec![report::build(&cmd)]).await?;
            match results.first() {
                Some(Ok(handle)) => {
                    println!("{handle}");
                    Ok(())
                }
                Some(Err(code)) => Err(ClientError::Status(*code).into()),
                None => Err(ClientError::Protocol("empty report reply".into()).into()),
            }
        }
        Command::Audit { limit, json } => {
            let records = client.audit(limit).await?;
            if json {
                let rows: Vec<_> = records
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "at": humantime::format_rfc3339_seconds(r.at).to_string(),
                            "caller": r.caller, "method": r.method, "target": r.target, "result": r.result,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&rows)?);
            } else {
                println!("{}", output::audit_table(&records));
            }
            Ok(())
        }
        Command::Demo { .. }
        | Command::Fleet(_)
        | Command::Error { .. }
        | Command::Token(_)
        | Command::Completions { .. }
        | Command::Man => Ok(()),
    }
}

/// Pages through everything, with a progress line on a terminal.
async fn fetch(client: &AdminClient) -> Result<Vec<Connection>, ClientError> {
    let tty = std::io::stderr().is_terminal();
    let list = client
        .connections_with(1000, |seen, total| {
            if tty && total > 5000 {
                eprint!("\rpaging: {seen}/{total}");
            }
        })
        .await?;
    if tty && list.len() > 5000 {
        eprint!("\r\x1b[K");
    }
    Ok(list)
}

/// Connections from the daemon's windows: `limit` (all when None) from
/// `offset` on, in windows of up to 10,000; and how many match in all.
async fn windows(
    client: &AdminClient,
    filter: &WatchFilter,
    sort: &str,
    descending: bool,
    search: String,
    offset: u64,
    limit: Option<u64>,
) -> Result<(Vec<Connection>, u64), ClientError> {
    const WINDOW: u64 = 10_000;
    let mut list = Vec::new();
    let mut matching = 0;
    let mut at = offset;
    loop {
        let want = limit
            .map_or(WINDOW, |l| l.saturating_sub(list.len() as u64))
            .min(WINDOW);
        if want == 0 {
            break;
        }
        let w = client
            .window(rras_proto::pb::WindowRequest {
                sort: sort.to_owned(),
                descending,
                offset: at,
                limit: want as u32,
                user: filter.user.clone().unwrap_or_default(),
                engine: filter.engine.map(|e| e.as_str().to_owned()).unwrap_or_default(),
                instance: filter.instance.clone().unwrap_or_default(),
                interface: filter.interface.clone().unwrap_or_default(),
                text: search.clone(),
                ..Default::default()
            })
            .await?;
        matching = w.matching;
        let got = w.connections.len() as u64;
        list.extend(w.connections);
        at += got;
        if got < want || at >= matching {
            break;
        }
    }
    Ok((list, matching))
}
