//! Where a 100-entry page's time goes, against a running daemon: the same
//! connection times an empty call, a 1-entry page, a 100-entry page read
//! without decoding and the same page decoded, interleaved so the machine's
//! state is the same for all four. Start a daemon with sessions first
//! (`rras-bench memory --sessions 1000000 --no-peer --hold 600` prints its
//! socket), then:
//!
//! `cargo run --release -p rras-bench --example page_split -- unix:SOCKET [CALLS]`

use std::time::Instant;

use rras_client::AdminClient;
use rras_core::RAS_CONNECTION_EX_SIZE;

fn percentiles(name: &str, mut v: Vec<u32>) {
    v.sort_unstable();
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0);
    println!(
        "{name:<28} p50 {:>4} µs  p90 {:>4} µs  p99 {:>5} µs  max {:>6} µs",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

fn micros(since: Instant) -> u32 {
    u32::try_from(since.elapsed().as_micros()).unwrap_or(u32::MAX)
}

fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .ok_or_else(|| anyhow::anyhow!("usage: page_split unix:SOCKET [CALLS]"))?;
    let calls: usize = std::env::args().nth(2).map(|s| s.parse()).transpose()?.unwrap_or(3000);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        let c = AdminClient::connect(&addr).await?;
        let header = (1, 1, RAS_CONNECTION_EX_SIZE);
        // A resume handle in the middle of the list.
        let total = c
            .enum_records(header, RAS_CONNECTION_EX_SIZE - 1, 0)
            .await?
            .total_entries;
        let mut skip = c
            .enum_records(header, (total / 2).saturating_mul(RAS_CONNECTION_EX_SIZE), 0)
            .await?;
        while let Some(chunk) = skip.next_chunk().await {
            chunk?;
        }
        let mut resume = skip.resume_handle;
        let (mut empty, mut one, mut raw, mut decoded) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..calls {
            let t = Instant::now();
            c.is_service_running().await?;
            empty.push(micros(t));
            let kinds = [(1, false, &mut one), (100, false, &mut raw), (100, true, &mut decoded)];
            for (entries, decode, times) in kinds {
                let t = Instant::now();
                let mut page = c
                    .enum_records(header, (entries - 1) * RAS_CONNECTION_EX_SIZE + 1, resume)
                    .await?;
                if decode {
                    page.for_each_record(|_| {}).await?;
                } else {
                    while let Some(chunk) = page.next_chunk().await {
                        chunk?;
                    }
                }
                times.push(micros(t));
                resume = page.resume_handle;
            }
            if resume == 0 {
                anyhow::bail!("reached the end of the list; start with more sessions");
            }
        }
        percentiles("empty call", empty);
        percentiles("1-entry page", one);
        percentiles("100-entry page, not decoded", raw);
        percentiles("100-entry page, decoded", decoded);
        Ok(())
    })
}
