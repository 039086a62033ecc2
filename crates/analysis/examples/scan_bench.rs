//! Scan throughput of the engine, for `scripts/bench-scan.sh` (docs/benchmarks.md).
//!
//! ```text
//! scan_bench generate DIR [FILES]        write a deterministic corpus of FILES files
//! scan_bench scan DIR THREADS rules|full scan every file in DIR with THREADS threads
//! ```
//!
//! `rules` runs the YARA-X rules alone over each file, as `yr scan` does; `full` runs the
//! whole analysis of a submission (hashes, mime type, rules, archive contents). Both read
//! each file from disk inside the measured run and print one line of counts; the script
//! times the whole process, rule compilation included, as it times `yr`.

use pushdetect_analysis::rules::ScanContext;
use pushdetect_analysis::{Engine, EngineConfig};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["generate", dir] => generate(Path::new(dir), 2000),
        ["generate", dir, n] => generate(Path::new(dir), n.parse().expect("FILES: a number")),
        ["scan", dir, threads, mode] => scan(
            Path::new(dir),
            threads.parse().expect("THREADS: a number"),
            mode == &"full",
        ),
        _ => {
            eprintln!("usage: scan_bench generate DIR [FILES] | scan DIR THREADS rules|full");
            std::process::exit(2);
        }
    }
}

/// xorshift64*: a deterministic corpus without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A size between 1 KiB and 512 KiB, log-uniform: many small files, some large.
    fn size(&mut self) -> usize {
        let exp = 10 + self.below(10) as u32;
        (1usize << exp) + self.below(1 << exp) as usize / 2
    }
}

const WORDS: &[&str] = &[
    "GET",
    "POST",
    "host",
    "user",
    "session",
    "connection",
    "accepted",
    "denied",
    "from",
    "to",
    "port",
    "request",
    "response",
    "error",
    "warning",
    "info",
    "kernel",
    "service",
    "started",
    "stopped",
    "config",
    "update",
    "install",
    "document",
    "report",
    "invoice",
];

fn text(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(size + 16);
    while out.len() < size {
        out.extend_from_slice(WORDS[rng.below(WORDS.len() as u64) as usize].as_bytes());
        out.push(if rng.below(12) == 0 { b'\n' } else { b' ' });
    }
    out
}

fn binary(rng: &mut Rng, size: usize) -> Vec<u8> {
    (0..size).map(|_| rng.next() as u8).collect()
}

/// A PE-shaped file: MZ header, PE signature, and import names in the body.
fn pe_like(rng: &mut Rng, size: usize, suspicious: bool) -> Vec<u8> {
    let mut out = binary(rng, size.max(1024));
    out[0..2].copy_from_slice(b"MZ");
    out[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
    out[0x80..0x84].copy_from_slice(b"PE\0\0");
    let names: &[&[u8]] = if suspicious {
        &[
            b"VirtualAllocEx\0",
            b"WriteProcessMemory\0",
            b"CreateRemoteThread\0",
        ]
    } else {
        &[b"GetProcAddress\0", b"LoadLibraryA\0", b"ExitProcess\0"]
    };
    let mut at = 0x200;
    for name in names {
        out[at..at + name.len()].copy_from_slice(name);
        at += name.len() + 8;
    }
    out
}

fn script(rng: &mut Rng, size: usize, suspicious: bool) -> Vec<u8> {
    let mut out = text(rng, size);
    let line: &[u8] = if suspicious {
        b"\npowershell -NoProfile -EncodedCommand SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAKQA=\n"
    } else {
        b"\nWrite-Host 'backup finished'\n"
    };
    out.extend_from_slice(line);
    out
}

fn zip_of(rng: &mut Rng, entries: usize) -> Vec<u8> {
    let mut cursor = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut cursor);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        for i in 0..entries {
            zip.start_file(format!("doc{i}.txt"), options).unwrap();
            let size = rng.size() / 4;
            zip.write_all(&text(rng, size)).unwrap();
        }
        zip.finish().unwrap();
    }
    cursor.into_inner()
}

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Writes FILES files: 45% text, 25% random binary, 10% PE-shaped, 10% scripts,
/// 8% zip archives, 2% EICAR; one in five PE files and scripts is suspicious.
fn generate(dir: &Path, files: usize) {
    std::fs::create_dir_all(dir).expect("create the corpus directory");
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut total = 0usize;
    for i in 0..files {
        let size = rng.size();
        let pick = rng.below(100);
        let suspicious = rng.below(5) == 0;
        let content = match pick {
            0..=44 => text(&mut rng, size),
            45..=69 => binary(&mut rng, size),
            70..=79 => pe_like(&mut rng, size, suspicious),
            80..=89 => script(&mut rng, size, suspicious),
            90..=97 => {
                let entries = 1 + rng.below(8) as usize;
                zip_of(&mut rng, entries)
            }
            _ => EICAR.to_vec(),
        };
        total += content.len();
        std::fs::write(dir.join(format!("f{i:05}")), content).expect("write a corpus file");
    }
    println!("corpus: {files} files, {total} bytes in {}", dir.display());
}

fn scan(dir: &Path, threads: usize, full: bool) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the corpus directory")
        .map(|e| e.expect("corpus entry").path())
        .collect();
    paths.sort();
    let engine = Engine::new(EngineConfig::default()).expect("compile the rules");
    let snapshot = engine.snapshot();
    let chunk = paths.len().div_ceil(threads.max(1));
    let (bytes, matched) = std::thread::scope(|s| {
        let workers: Vec<_> = paths
            .chunks(chunk.max(1))
            .map(|part| {
                let snapshot = &snapshot;
                s.spawn(move || {
                    let mut scanner = snapshot.rules.scanner();
                    let (mut bytes, mut matched) = (0usize, 0usize);
                    let ctx = ScanContext {
                        filename: "",
                        archive_depth: 0,
                    };
                    for path in part {
                        let content = std::fs::read(path).expect("read a corpus file");
                        bytes += content.len();
                        let hit = if full {
                            snapshot.analyse_file(&mut scanner, &content, None).1.score > 0
                        } else {
                            !scanner.scan(&content, &ctx).is_empty()
                        };
                        matched += usize::from(hit);
                    }
                    (bytes, matched)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("scan thread"))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1))
    });
    println!(
        "scanned: {} files, {bytes} bytes, {matched} matched",
        paths.len()
    );
}
