//! `cargo +nightly fuzz run zip`: see pushdetect_fuzz::zip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushdetect_fuzz::zip(data));
