//! `cargo +nightly fuzz run xml`: see pushdetect_fuzz::xml.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushdetect_fuzz::xml(data));
