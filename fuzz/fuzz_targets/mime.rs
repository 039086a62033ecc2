//! `cargo +nightly fuzz run mime`: see pushdetect_fuzz::mime.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushdetect_fuzz::mime(data));
