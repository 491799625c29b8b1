//! `make bench-client`: the login merge timed in wasm in headless Chromium. See `bench/mod.rs`.
#![cfg(target_arch = "wasm32")]

mod bench;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
