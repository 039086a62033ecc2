//! `cargo +nightly fuzz run form`: see pushdetect_fuzz::form.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushdetect_fuzz::form(data));
