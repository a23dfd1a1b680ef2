//! `rasctl demo`: the whole system on embedded defaults. Starts rrasd
//! in-process on a temporary state directory and socket, feeds it a
//! realistic mix of sessions through the Report RPC (the path hook-script
//! sources use), churns them, and prints what an admin sees through the
//! real RPC. Needs no root and no setup.

use std::time::{Duration, Instant, SystemTime};

use rras_client::AdminClient;
use rras_core::{synthetic, ConnectionStats};

use crate::output::connections_table;

const INITIAL: u64 = 240;
const SHOWN: usize = 15;

/// Runs the demo for ~12 s, or until Ctrl-C with `watch`.
pub(crate) async fn run(watch: bool) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let socket = dir.path().join("admin.sock");
    let config = rrasd::Config {
        state_dir: dir.path().join("state"),
        admin_socket: socket.clone(),
        socket_mode: "0600".into(),
        log_level: "warn".into(),
        ..rrasd::Config::default()
    };
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let daemon = tokio::spawn(rrasd::run(config, async move {
        let _ = stop_rx.await;
    }));
    let addr = format!("unix:{}", socket.display());
    let client = wait_for_daemon(&addr).await?;
    println!("rrasd demo: daemon up on {addr} (state in {})\n", dir.path().display());

    let now = SystemTime::now();
    let reports: Vec<_> = (0..INITIAL)
        .map(|i| rras_client::started(&synthetic::connection(i, now)))
        .collect();
    client.report(reports).await?;
    let mut next = INITIAL;
    let started = Instant::now();
    let mut round = 0u64;
    loop {
        round += 1;
        show(&client, round).await?;
        if !watch && started.elapsed() >= Duration::from_secs(10) {
            break;
        }
        let tick = tokio::time::sleep(Duration::from_secs(2));
        tokio::select! {
            _ = tick => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        churn(&client, &mut next, round).await?;
    }
    let info = client.server_info().await?;
    println!(
        "server: rrasd {} state={} uptime={}s connections={} ({})",
        info.version,
        info.state,
        info.uptime_secs,
        info.total_connections,
        info.per_engine
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(e, n)| format!("{e} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    client.disconnect_session().await?;
    let _ = stop_tx.send(());
    daemon.await??;
    Ok(())
}

async fn wait_for_daemon(addr: &str) -> anyhow::Result<AdminClient> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(c) = AdminClient::connect(addr).await {
            if matches!(c.is_service_running().await, Ok((true, _))) {
                return Ok(c);
            }
        }
        if Instant::now() > deadline {
            anyhow::bail!("the in-process rrasd did not come up within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Ends a few sessions, starts a few, and moves everyone's counters.
async fn churn(client: &AdminClient, next: &mut u64, round: u64) -> anyhow::Result<()> {
    let live = client.connections().await?;
    let mut reports = Vec::new();
    for c in live
        .iter()
        .filter(|c| (u64::from(c.handle.get()) + round).is_multiple_of(17))
    {
        reports.push(rras_client::ended(&c.info.source, "user-request"));
    }
    for c in live
        .iter()
        .filter(|c| !(u64::from(c.handle.get()) + round).is_multiple_of(17))
    {
        let s = c.info.stats;
        let stats = ConnectionStats {
            bytes_rcved: s.bytes_rcved + 150_000 * round,
            bytes_xmited: s.bytes_xmited + 900_000 * round,
            frames_rcved: s.frames_rcved + 200,
            frames_xmited: s.frames_xmited + 700,
            ..s
        };
        reports.push(rras_client::updated(&c.info.source, &stats));
    }
    let now = SystemTime::now();
    for _ in 0..12 {
        let mut info = synthetic::connection(*next, now);
        info.started_at = now;
        info.stats = ConnectionStats::default();
        reports.push(rras_client::started(&info));
        *next += 1;
    }
    client.report(reports).await?;
    Ok(())
}

async fn show(client: &AdminClient, round: u64) -> anyhow::Result<()> {
    // Page the way a Windows tool does: small pages, resume handle each time.
    let mut pages = 0;
    let mut resume = 0;
    let mut all = Vec::new();
    loop {
        let page = client.enum_page(63 * rras_core::RAS_CONNECTION_EX_SIZE, resume).await?;
        pages += 1;
        all.extend(page.entries);
        if page.resume_handle == 0 {
            break;
        }
        resume = page.resume_handle;
    }
    all.sort_by_key(|c| std::cmp::Reverse(c.info.stats.bytes_rcved + c.info.stats.bytes_xmited));
    println!(
        "── refresh {round}: {} active connections, read in {pages} pages of 64 via MprAdminConnectionEnumEx paging; top {SHOWN} by traffic:",
        all.len()
    );
    println!("{}", connections_table(&all[..all.len().min(SHOWN)], SystemTime::now()));
    Ok(())
}
