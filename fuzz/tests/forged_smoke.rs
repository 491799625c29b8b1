//! A short run of the structure-aware `forged_change` target on seeded recipes (`FORGED_RUNS`, default 3,000), in
//! `make test`; `FUZZ_TARGETS=forged_change make fuzz` runs it under libFuzzer.

#[test]
fn forged_changes_with_valid_checksums_never_panic_and_a_refusal_changes_nothing() {
    let runs: u64 = std::env::var("FORGED_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let mut failures = Vec::new();
    for seed in 0..runs {
        let data = cart_fuzz::recipe_bytes(seed);
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
