//! The fuzz targets (fuzz/src/lib.rs) on stable: every corpus file, then deterministic
//! mutations of them. A short run on every test run; `PUSHDETECT_FUZZ_RUNS` sets the
//! mutations per target for a longer one (docs/security.md). The coverage-guided runs are
//! `cargo +nightly fuzz run NAME`.

#[allow(dead_code)]
#[path = "../../../../fuzz/src/lib.rs"]
mod targets;

use std::path::PathBuf;

/// Mutations per target in the test suite.
const SMOKE_RUNS: u64 = 3_000;

/// A small deterministic generator (xorshift64*): the same mutations on every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Bytes that matter to the parsers under test.
const INTERESTING: &[&[u8]] = &[
    b"%",
    b"%E9",
    b"%C3%A9",
    b"&",
    b"=",
    b"+",
    b"\"",
    b"\\",
    b"<",
    b">",
    b"\r\n",
    b"\n\n",
    b"\x00",
    b"\xff",
    b"\xe2\x80\xae",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"--",
    b"PK\x03\x04",
    b"=?utf-8?B?",
    b"?=",
    b"Content-Type: multipart/mixed; boundary=b\r\n",
    b"@",
    b"9999999999999",
];

fn mutate(rng: &mut Rng, seed: &[u8], other: &[u8]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(data.len() + 1);
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => data.insert(at, rng.next() as u8),
            2 if !data.is_empty() => {
                let end = (at + rng.below(16)).min(data.len());
                data.drain(at.min(end)..end);
            }
            3 => {
                let piece = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, piece.iter().copied());
            }
            4 if !data.is_empty() => {
                let start = rng.below(data.len());
                let end = (start + rng.below(64)).min(data.len());
                let copy = data[start..end].to_vec();
                data.splice(at..at, copy);
            }
            5 => {
                let cut = rng.below(other.len() + 1);
                data.truncate(at);
                data.extend_from_slice(&other[cut..]);
            }
            _ => data.truncate(at),
        }
    }
    data
}

fn corpus(name: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn every_fuzz_target_holds_on_its_corpus_and_mutations_of_it() {
    let runs = std::env::var("PUSHDETECT_FUZZ_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(SMOKE_RUNS);
    for (i, (name, target)) in targets::TARGETS.iter().enumerate() {
        let seeds = corpus(name);
        assert!(!seeds.is_empty(), "fuzz/corpus/{name} is empty");
        for seed in &seeds {
            target(seed);
        }
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ i as u64);
        let started = std::time::Instant::now();
        for run in 0..runs {
            let seed = &seeds[rng.below(seeds.len())];
            let other = &seeds[rng.below(seeds.len())];
            let input = mutate(&mut rng, seed, other);
            let outcome = std::panic::catch_unwind(|| target(&input));
            if outcome.is_err() {
                let file = std::env::temp_dir().join(format!("pushdetect-fuzz-{name}-{run}"));
                let _ = std::fs::write(&file, &input);
                panic!(
                    "fuzz target {name} failed on mutation {run}; input in {}",
                    file.display()
                );
            }
        }
        if runs > SMOKE_RUNS {
            eprintln!("{name}: {runs} runs in {:?}", started.elapsed());
        }
    }
}
