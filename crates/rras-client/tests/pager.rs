//! The pager and the blocking iterator against a real (in-process) rrasd:
//! resume handles stay inside, every connection comes once, and the
//! server's cursors are gone when the walk ends.

use std::collections::HashSet;
use std::time::SystemTime;

use rras_client::{AdminClient, BlockingClient};
use rras_core::synthetic;
use rras_testkit::{runtime, InProcessDaemon};

#[test]
fn pager_and_blocking_iterator_walk_everything_once() {
    let daemon = InProcessDaemon::start(|_| {});
    let rt = runtime();
    rt.block_on(async {
        let client = AdminClient::connect(&daemon.addr()).await.unwrap();
        let now = SystemTime::now();
        let reports = (0..1234)
            .map(|i| rras_client::started(&synthetic::connection(i, now)))
            .collect();
        client.report(reports).await.unwrap();
        let mut pager = client.pager(100);
        assert_eq!(pager.remaining(), None);
        let mut pages = 0;
        let mut seen = HashSet::new();
        while let Some(page) = pager.next_page().await {
            let page = page.unwrap();
            assert!(page.len() <= 100);
            pages += 1;
            for c in page {
                assert!(seen.insert(c.handle), "twice");
            }
        }
        assert_eq!((pages, seen.len(), pager.remaining()), (13, 1234, Some(0)));
        assert_eq!(client.server_info().await.unwrap().open_cursors, 0);
        let mut progress = Vec::new();
        let all = client
            .connections_with(500, |seen, total| progress.push((seen, total)))
            .await
            .unwrap();
        assert_eq!(all.len(), 1234);
        assert_eq!(progress, vec![(500, 1234), (1000, 1234), (1234, 1234)]);
    });
    let blocking = BlockingClient::connect(&daemon.addr()).unwrap();
    let handles: Vec<u32> = blocking.connections_iter(64).map(|c| c.unwrap().handle.get()).collect();
    assert_eq!(handles.len(), 1234);
    assert_eq!(handles.iter().collect::<HashSet<_>>().len(), 1234);
    // Stopping early is fine: the iterator is lazy.
    assert_eq!(blocking.connections_iter(10).take(3).count(), 3);
    blocking.close().unwrap();
}
