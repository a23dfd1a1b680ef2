//! The codec fuzzer behind `rras-fuzz`: every decoder that reads bytes an
//! engine, NAS, hook or the wire sends is fed real samples, mutated.
//!
//! No nightly toolchain or libFuzzer is needed, so the same run works in CI
//! and on an operator's machine. A target passes when no input panics it;
//! what a decoder *returns* for garbage is checked by its own unit tests.
//! Mutations are biased towards what breaks parsers of text and TLV
//! formats: numbers at the edges of their types, lengths and counts that
//! lie (as big-endian integers and as LEB128 varints), repeated and
//! truncated fields, huge lines. A decoder that allocates what a count
//! claims aborts the run (an allocation failure is no panic): rerun with
//! fewer `--inputs` to find the input.

pub mod mutate;
pub mod targets;

pub use mutate::Mutator;
pub use targets::{Target, TARGETS};

use std::panic::{catch_unwind, AssertUnwindSafe};

/// What one target's run found.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The target's name.
    pub target: &'static str,
    /// Inputs fed.
    pub inputs: u64,
    /// Inputs the decoder accepted (the rest were clean errors).
    pub accepted: u64,
    /// The first input that panicked, if any.
    pub panic: Option<Vec<u8>>,
}

/// Feeds `target` `inputs` mutated samples from the generator seeded with
/// `seed`. Stops at the first panic.
pub fn run(target: &Target, inputs: u64, seed: u64) -> RunReport {
    let seeds = (target.seeds)();
    let mut mutator = Mutator::new(seed);
    let mut accepted = 0;
    for n in 0..inputs {
        let input = mutator.next_input(&seeds);
        match catch_unwind(AssertUnwindSafe(|| (target.feed)(&input))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                return RunReport {
                    target: target.name,
                    inputs: n + 1,
                    accepted,
                    panic: Some(input),
                }
            }
        }
    }
    RunReport {
        target: target.name,
        inputs,
        accepted,
        panic: None,
    }
}
