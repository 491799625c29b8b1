#![no_main]
// See cart_fuzz::forged_change for what this target checks.
libfuzzer_sys::fuzz_target!(|data: &[u8]| cart_fuzz::forged_change(data));
