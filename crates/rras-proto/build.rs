//! Compiles proto/admin.proto with protox (pure Rust): no system protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto/admin.proto");
    let fds = protox::compile(["proto/admin.proto"], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Record chunks are sliced out of the receive buffer, not copied.
        .bytes(".rras.admin.v1.RecordChunk.records")
        // A change's record is the table's own bytes, shared by every
        // watcher's message (and sliced, not copied, on the client).
        .bytes(".rras.admin.v1.Change.record")
        .compile_fds(fds)?;
    Ok(())
}
