//! A short run of the structure-aware `forged_change` target on seeded random recipes, in `make test`; `make fuzz`
//! runs it under libFuzzer for a million executions.

/// xorshift64*: a seeded, dependency-free source of recipe bytes.
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 56) as u8
        })
        .collect()
}

#[test]
fn forged_changes_with_valid_checksums_never_panic_and_a_refusal_changes_nothing() {
    let runs: u64 = std::env::var("FORGED_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let mut failures = Vec::new();
    for seed in 0..runs {
        let data = bytes(seed, 16 + (seed as usize % 200));
        if std::panic::catch_unwind(|| cart_fuzz::forged_change(&data)).is_err() {
            failures.push(seed);
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} recipes panicked, seeds {:?}",
        failures.len(),
        &failures[..failures.len().min(20)]
    );
}
