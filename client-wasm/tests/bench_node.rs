//! `make bench-client`: the login merge timed in wasm under Node. See `bench/mod.rs`.
#![cfg(target_arch = "wasm32")]

mod bench;
