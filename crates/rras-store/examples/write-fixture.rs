//! Writes the small store that `tests/fixture.rs` opens, in the format of
//! the code it is built with: `cargo run -p rras-store --example
//! write-fixture -- crates/rras-store/tests/fixtures/schema-N.redb`. Run it
//! once per store format and check the file in; never regenerate an
//! existing one (it stands for stores users already have).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rras_core::{synthetic, AuditRecord, Connection, ConnectionHandle, EndedConnection, Record};
use rras_store::{Store, StoreOp};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: write-fixture PATH")?;
    let at = UNIX_EPOCH + Duration::from_secs(1_795_600_000);
    let store = Store::open(std::path::Path::new(&path))?;
    let conn = |i: u32| Connection {
        handle: ConnectionHandle::new(i).expect("non-zero"),
        info: synthetic::connection(u64::from(i), at),
    };
    let mut ops: Vec<StoreOp> = (1..=5).map(|i| StoreOp::Put(Record::encode(&conn(i)))).collect();
    for i in 6..=8 {
        ops.push(StoreOp::End(Box::new(EndedConnection {
            connection: conn(i),
            ended_at: at + Duration::from_secs(u64::from(i)),
            reason: format!("reason-{i}"),
        })));
    }
    for i in 0..2u64 {
        ops.push(StoreOp::Audit(AuditRecord {
            at: at + Duration::from_secs(i),
            caller: format!("uid:{i}"),
            method: "ConnectionHangUp".into(),
            target: format!("{}", i + 1),
            result: 0,
        }));
    }
    store.commit(&ops, 8)?;
    let _ = SystemTime::now();
    println!("wrote {path}");
    Ok(())
}
