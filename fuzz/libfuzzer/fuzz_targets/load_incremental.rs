#![no_main]
// See cart_fuzz::load_incremental for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cart_fuzz::load_incremental(data));
