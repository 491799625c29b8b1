//! The library's storage logic under Node 22 (its Web Storage, `--experimental-webstorage`): see `logic/mod.rs`.
//! Run by `scripts/test-client-wasm.sh`.
#![cfg(target_arch = "wasm32")]

mod logic;
mod support;
