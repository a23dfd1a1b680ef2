//! CI's share of fuzzing: every target, 10,000 inputs, no panic. The full
//! run (≥ 1M inputs per target) is `cargo run --release -p rras-fuzz`.

#[test]
fn every_target_survives_a_smoke_run() {
    for t in rras_fuzz::TARGETS {
        let report = rras_fuzz::run(t, 10_000, 0xc1);
        assert!(report.panic.is_none(), "{} panicked on {:?}", t.name, report.panic);
        assert_eq!(report.inputs, 10_000);
        assert!(report.accepted > 0, "{}: every mutated input rejected", t.name);
    }
}
