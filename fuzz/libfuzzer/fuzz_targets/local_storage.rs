#![no_main]
// See cart_fuzz::local_storage for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cart_fuzz::local_storage(data));
