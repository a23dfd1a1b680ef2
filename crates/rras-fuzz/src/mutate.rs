//! `Mutator`: a small, deterministic input generator. Each input starts as
//! one of the target's seeds (or, rarely, random bytes) and gets a few
//! mutations stacked on it.

/// Numbers that sit on the edges of the types decoders convert into.
const EDGE_NUMBERS: &[&str] = &[
    "0",
    "-1",
    "1",
    "255",
    "256",
    "65535",
    "65536",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "253402300799",
    "253402300800",
    "999999999",
    "1000000000",
    "-9223372036854775808",
    "1e309",
    "NaN",
    "",
];

/// Separators and markers of the text formats we parse.
const TOKENS: &[&str] = &[
    "\n", "\t", "=", ":", "/", "[", "]", ",", "@", "END", "HEADER", "errno=0", "\0", "\r\n",
];

/// Largest input generated (a 64 KiB line is "huge" to every parser here).
pub const MAX_INPUT: usize = 64 * 1024;

/// Deterministic mutation source (xorshift64*; no dependency, same inputs
/// for the same seed on every machine).
#[derive(Debug, Clone)]
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A generator for `seed` (0 is fine).
    pub fn new(seed: u64) -> Self {
        Mutator {
            state: seed ^ 0x9e37_79b9_7f4a_7c15 | 1,
        }
    }

    /// The next pseudo-random number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number below `n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// One input: a seed with 1–8 mutations, or 1 in 64 times random bytes.
    pub fn next_input(&mut self, seeds: &[Vec<u8>]) -> Vec<u8> {
        if seeds.is_empty() || self.below(64) == 0 {
            let len = self.below(512);
            return (0..len).map(|_| self.next_u64() as u8).collect();
        }
        let mut input = self.pick(seeds).clone();
        for _ in 0..1 + self.below(8) {
            self.mutate(&mut input, seeds);
            // Huge inputs are covered up to this size; beyond it they only
            // make the run slower (every socket reader caps replies anyway).
            input.truncate(MAX_INPUT);
        }
        input
    }

    fn mutate(&mut self, input: &mut Vec<u8>, seeds: &[Vec<u8>]) {
        let len = input.len();
        let at = self.below(len + 1);
        match self.below(11) {
            // Flip a bit.
            0 if len > 0 => {
                let i = self.below(len);
                input[i] ^= 1 << self.below(8);
            }
            // Set a byte to an edge value.
            1 if len > 0 => {
                let i = self.below(len);
                input[i] = *self.pick(&[0u8, 1, 0x7f, 0x80, 0xff, b'0', b'9', b'-']);
            }
            // Replace a run of digits (or insert) with an edge number.
            2 => {
                let start = at;
                let mut end = start;
                while end < len && input[end].is_ascii_digit() {
                    end += 1;
                }
                let n = self.pick(EDGE_NUMBERS).as_bytes().to_vec();
                input.splice(start..end, n);
            }
            // Insert a token.
            3 => {
                let t = self.pick(TOKENS).as_bytes().to_vec();
                input.splice(at..at, t);
            }
            // Delete a range.
            4 if len > 0 => {
                let n = 1 + self.below(16.min(len - at.min(len - 1)));
                let start = at.min(len - 1);
                input.drain(start..(start + n).min(len));
            }
            // Duplicate a range (repeated fields, long lines).
            5 if len > 0 => {
                let start = self.below(len);
                let n = 1 + self.below((len - start).min(256));
                let chunk = input[start..start + n].to_vec();
                let most = if self.below(16) == 0 { 4096 } else { 4 };
                let times = 1 + self.below(most);
                let repeated: Vec<u8> = chunk.iter().copied().cycle().take(chunk.len() * times).collect();
                input.splice(at..at, repeated);
            }
            // Truncate.
            6 => input.truncate(at),
            // Write a big-endian edge integer over binary data (TLV
            // lengths, RADIUS integers).
            7 if len >= 2 => {
                let i = self.below(len - 1);
                let v = *self.pick(&[0u32, 1, 2, 3, 0x7fff_ffff, 0x8000_0000, u32::MAX, 4096, 65535]);
                let bytes = v.to_be_bytes();
                let n = (len - i).min(4);
                input[i..i + n].copy_from_slice(&bytes[4 - n..]);
            }
            // Replace a LEB128 varint (the counts and lengths of records,
            // history blocks and usage columns) with an edge one; half the
            // time within the first 64 bytes, where headers keep counts.
            9 if len > 0 => {
                let window = if self.below(2) == 0 { len.min(64) } else { len };
                let start = self.below(window);
                let mut end = start;
                while end < len && end - start < 10 && input[end] & 0x80 != 0 {
                    end += 1;
                }
                let v = *self.pick(&[0u64, 1, 127, 128, 0xffff_ffff, 1 << 32, 1 << 40, 1 << 63, u64::MAX]);
                let mut varint = Vec::with_capacity(10);
                rras_core::record::put_varint(&mut varint, v);
                input.splice(start..(end + 1).min(len), varint);
            }
            // Splice in part of another seed.
            8 => {
                let other = self.pick(seeds);
                if !other.is_empty() {
                    let s = self.below(other.len());
                    let n = self.below(other.len() - s + 1);
                    input.splice(at..at, other[s..s + n].iter().copied());
                }
            }
            // Random bytes.
            _ => {
                let n = 1 + self.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| self.next_u64() as u8).collect();
                input.splice(at..at, bytes);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_inputs_and_inputs_vary() {
        let seeds = vec![b"errno=0\nrx_bytes=5\n".to_vec()];
        let a: Vec<_> = {
            let mut m = Mutator::new(7);
            (0..200).map(|_| m.next_input(&seeds)).collect()
        };
        let b: Vec<_> = {
            let mut m = Mutator::new(7);
            (0..200).map(|_| m.next_input(&seeds)).collect()
        };
        assert_eq!(a, b);
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert!(distinct.len() > 150, "only {} distinct inputs", distinct.len());
        assert!(a.iter().any(|i| i.windows(20).any(|w| w == b"18446744073709551615")));
    }

    #[test]
    fn binary_counts_are_replaced_by_edge_varints() {
        // A header of varints: version, a count, a length, then data.
        let seeds = vec![vec![1u8, 3, 0x90, 0x01, 7, 7, 7, 7]];
        let mut m = Mutator::new(3);
        let inputs: Vec<_> = (0..50_000).map(|_| m.next_input(&seeds)).collect();
        let huge = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert!(inputs.iter().any(|i| i.windows(huge.len()).any(|w| w == huge)));
        // 2^40 in place of the two-byte length (0x90 0x01), the rest kept.
        let two_pow_40 = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        assert!(inputs
            .iter()
            .any(|i| i.len() == 12 && i[2..8] == two_pow_40 && i[8..] == [7, 7, 7, 7]));
    }
}
