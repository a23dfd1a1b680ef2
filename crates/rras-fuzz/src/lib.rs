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
//! claims aborts the run (an allocation failure is no panic): the same
//! seed run again with `--last-input FILE` leaves the input that did it
//! in FILE.

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
    run_watched(target, inputs, seed, |_| Ok::<(), std::convert::Infallible>(())).unwrap_or_else(|never| match never {})
}

/// [`run`], showing each input to `before` ahead of feeding it: what
/// aborts the process (an allocation failure is no panic) can then be
/// found afterwards. An error from `before` ends the run with it.
pub fn run_watched<E>(
    target: &Target,
    inputs: u64,
    seed: u64,
    mut before: impl FnMut(&[u8]) -> Result<(), E>,
) -> Result<RunReport, E> {
    let seeds = (target.seeds)();
    let mut mutator = Mutator::new(seed);
    let mut accepted = 0;
    for n in 0..inputs {
        let input = mutator.next_input(&seeds);
        before(&input)?;
        match catch_unwind(AssertUnwindSafe(|| (target.feed)(&input))) {
            Ok(true) => accepted += 1,
            Ok(false) => {}
            Err(_) => {
                return Ok(RunReport {
                    target: target.name,
                    inputs: n + 1,
                    accepted,
                    panic: Some(input),
                })
            }
        }
    }
    Ok(RunReport {
        target: target.name,
        inputs,
        accepted,
        panic: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seeds() -> Vec<Vec<u8>> {
        vec![b"abc".to_vec()]
    }

    /// Panics on any input holding a zero byte.
    fn feed(input: &[u8]) -> bool {
        assert!(!input.contains(&0), "a zero");
        true
    }

    const ZERO_HATER: Target = Target {
        name: "zero-hater",
        about: "panics on a zero byte",
        seeds,
        feed,
    };

    #[test]
    fn the_watcher_sees_every_input_and_last_the_one_that_panicked() {
        let mut shown = Vec::new();
        let report = run_watched(&ZERO_HATER, 100_000, 5, |input| {
            shown.push(input.to_vec());
            Ok::<(), ()>(())
        })
        .unwrap();
        let panicked = report.panic.expect("a zero byte comes up within 100k inputs");
        assert_eq!(shown.len() as u64, report.inputs);
        assert_eq!(shown.last(), Some(&panicked));
        // The same seed without a watcher stops at the same input.
        assert_eq!(run(&ZERO_HATER, 100_000, 5).panic, Some(panicked));
        // An error from the watcher ends the run with it.
        assert_eq!(
            run_watched(&ZERO_HATER, 10, 5, |_| Err("full disk")).unwrap_err(),
            "full disk"
        );
    }
}
