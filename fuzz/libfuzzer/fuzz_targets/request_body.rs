#![no_main]
// See cart_fuzz::request_body for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cart_fuzz::request_body(data));
