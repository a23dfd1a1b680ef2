//! Prints where a store file's bytes go, as redb counts them: `cargo run
//! --release -p rras-store --example store-stats -- state/rrasd.redb`.
//! Opens the file itself (stop rrasd first: a running daemon holds the
//! lock) and changes nothing — the write transaction it needs for the
//! numbers is aborted.

use redb::{Database, ReadableTableMetadata, TableHandle};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).ok_or("usage: store-stats PATH")?;
    let file_bytes = std::fs::metadata(&path)?.len();
    let db = Database::open(&path)?;
    let txn = db.begin_write()?;
    let stats = txn.stats()?;
    let page = stats.page_size() as u64;
    println!("file               {file_bytes:>14} B");
    println!(
        "allocated pages    {:>14} B ({} pages)",
        stats.allocated_pages() * page,
        stats.allocated_pages()
    );
    println!("  leaf pages       {:>14} B", stats.leaf_pages() * page);
    println!("  branch pages     {:>14} B", stats.branch_pages() * page);
    println!("stored bytes       {:>14} B", stats.stored_bytes());
    println!("metadata bytes     {:>14} B", stats.metadata_bytes());
    println!("fragmented bytes   {:>14} B", stats.fragmented_bytes());
    println!(
        "free in file       {:>14} B",
        file_bytes.saturating_sub(stats.allocated_pages() * page)
    );
    txn.abort()?;
    let read = db.begin_read()?;
    for handle in read.list_tables()? {
        let name = handle.name().to_string();
        let table = read.open_untyped_table(handle)?;
        let s = table.stats()?;
        println!(
            "table {name:<16} rows {:>9}  leaves {:>8}  branches {:>6}  stored {:>12} B  fragmented {:>12} B",
            table.len()?,
            s.leaf_pages(),
            s.branch_pages(),
            s.stored_bytes(),
            s.fragmented_bytes()
        );
    }
    Ok(())
}
