//! `cargo +nightly fuzz run mail_json`: see pushdetect_fuzz::mail_json.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| pushdetect_fuzz::mail_json(data));
