#![no_main]
// See cart_fuzz::receive_sync for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cart_fuzz::receive_sync(data));
