//! An identity provider's published key set (JWKS, `AUTH_JWKS_URL`): which of its keys the worker uses, for how
//! long it keeps them, and when it fetches them again. Pure; the fetch and the key import live in `webcrypto`.

use serde::Deserialize;
use serde_json::{json, Value};

use super::token::Alg;

/// Shortest and longest time a fetched key set is kept, whatever its `Cache-Control` says.
pub const MIN_MAX_AGE_SECS: u64 = 5 * 60;
pub const MAX_MAX_AGE_SECS: u64 = 24 * 60 * 60;
/// An unknown `kid` fetches the key set again at most this often (a rotation is picked up at once; a flood of made-up
/// `kid`s costs the provider one fetch per window). Also how long a failed refresh keeps serving the old keys before
/// trying again.
pub const REFETCH_MS: f64 = 30_000.0;
/// After a fetch failed with no keys at all, requests are answered 503 for this long without fetching again.
pub const FAILURE_BACKOFF_MS: f64 = 5_000.0;
/// Held keys that could not be refreshed are served this long past their max-age, then dropped (a key the provider
/// revoked stops working within max-age + this, whatever happens to its key set URL).
pub const STALE_MS: f64 = 60.0 * 60.0 * 1000.0;
/// A fetch under way for longer than this (the fetch timeout and a margin) is taken for lost.
pub const IN_FLIGHT_MS: f64 = 6_000.0;
/// How long a request waits before asking again while another request fetches.
pub const WAIT_MS: u64 = 25;
/// Most keys kept from one key set, and the largest key set read.
pub const MAX_KEYS: usize = 32;
pub const MAX_BYTES: usize = 64 * 1024;

/// A usable public key from the set: its id, the algorithm it verifies and the JWK to import (only the members
/// Web Crypto needs, so a stray `alg` or `key_ops` cannot make the import fail).
#[derive(Debug, Clone, PartialEq)]
pub struct Jwk {
    pub kid: Option<String>,
    pub alg: Alg,
    pub import: Value,
}

#[derive(Deserialize)]
struct RawSet {
    keys: Vec<Value>,
}

/// The usable keys of a JWKS document: RSA keys of at least 2048 bits (RS256) and P-256 keys (ES256) meant for
/// signatures. Others (encryption keys, other curves and algorithms) are skipped.
pub fn parse(bytes: &[u8]) -> Result<Vec<Jwk>, String> {
    if bytes.len() > MAX_BYTES {
        return Err(format!("the key set is over {MAX_BYTES} bytes"));
    }
    let set: RawSet =
        serde_json::from_slice(bytes).map_err(|e| format!("not a JWKS document: {e}"))?;
    Ok(set.keys.iter().filter_map(usable).take(MAX_KEYS).collect())
}

fn usable(key: &Value) -> Option<Jwk> {
    let text = |name: &str| key.get(name).and_then(Value::as_str);
    if text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let (alg, import) = match text("kty")? {
        "RSA" => {
            let n = text("n")?;
            // 2048 bits are 256 bytes, 342 base64url characters (a leading zero byte may add one).
            if n.len() < 342 {
                return None;
            }
            (Alg::Rs256, json!({ "kty": "RSA", "n": n, "e": text("e")? }))
        }
        "EC" if text("crv")? == "P-256" => (
            Alg::Es256,
            json!({ "kty": "EC", "crv": "P-256", "x": text("x")?, "y": text("y")? }),
        ),
        _ => return None,
    };
    let named = match text("alg") {
        None => true,
        Some("RS256") => alg == Alg::Rs256,
        Some("ES256") => alg == Alg::Es256,
        Some(_) => false,
    };
    named.then(|| Jwk {
        kid: text("kid").map(str::to_owned),
        alg,
        import,
    })
}

/// How long to keep a key set fetched with this `Cache-Control`, in seconds: its `max-age`, within
/// [`MIN_MAX_AGE_SECS`, `MAX_MAX_AGE_SECS`]; the minimum without one.
pub fn max_age(cache_control: Option<&str>) -> u64 {
    let age = cache_control.and_then(|value| {
        value.split(',').find_map(|directive| {
            let (name, seconds) = directive.trim().split_once('=')?;
            name.trim()
                .eq_ignore_ascii_case("max-age")
                .then(|| seconds.trim().trim_matches('"').parse::<u64>().ok())?
        })
    });
    age.unwrap_or(0).clamp(MIN_MAX_AGE_SECS, MAX_MAX_AGE_SECS)
}

/// The keys of one fetch, each with its imported handle `K`.
pub struct Keys<K> {
    pub keys: Vec<(Jwk, K)>,
}

/// What became of looking a token's key up.
#[derive(Debug, PartialEq)]
pub enum Found<K> {
    Key(K),
    /// No key has this `kid` (or, for a token without one, no single key of its algorithm).
    Unknown,
    /// The key with this `kid` verifies another algorithm.
    WrongAlg,
}

impl<K: Clone> Keys<K> {
    pub fn find(&self, alg: Alg, kid: Option<&str>) -> Found<K> {
        match kid {
            Some(kid) => match self
                .keys
                .iter()
                .find(|(k, _)| k.kid.as_deref() == Some(kid))
            {
                Some((k, handle)) if k.alg == alg => Found::Key(handle.clone()),
                Some(_) => Found::WrongAlg,
                None => Found::Unknown,
            },
            // A token without a `kid` may use the set's only key of its algorithm.
            None => {
                let mut of_alg = self.keys.iter().filter(|(k, _)| k.alg == alg);
                match (of_alg.next(), of_alg.next()) {
                    (Some((_, handle)), None) => Found::Key(handle.clone()),
                    _ => Found::Unknown,
                }
            }
        }
    }
}

/// The isolate's copy of the key set and when to fetch it again. Times are ms since the epoch.
pub struct Cache<K> {
    keys: Option<Keys<K>>,
    /// Until then the keys are fresh; after it one request refreshes them while the others go on using them.
    fresh_until: f64,
    /// When the fetch the keys came from started: an older fetch that answers later does not replace them.
    fetched_from: f64,
    /// When the fetch under way started (a cold isolate's other requests wait for it rather than fetch too).
    in_flight: Option<f64>,
    last_unknown_kid_fetch: Option<f64>,
    /// When the latest fetch failed; cleared by a fetch that succeeds.
    failed_at: Option<f64>,
}

/// What a request should do next.
#[derive(Debug, PartialEq)]
pub enum Step<K> {
    Verify(K),
    /// Refuse the token: `unknown_kid` or `alg_mismatch`.
    Refuse(&'static str),
    /// Fetch the key set, [`Cache::store`] the result with the `now` this step was asked at, and ask again with
    /// `fetched` set.
    Fetch,
    /// Another request is fetching: sleep [`WAIT_MS`] and ask again.
    Wait,
    /// 503: there are no keys to check the token with.
    Unavailable,
}

impl<K: Clone> Default for Cache<K> {
    fn default() -> Self {
        Cache {
            keys: None,
            fresh_until: 0.0,
            fetched_from: f64::MIN,
            in_flight: None,
            last_unknown_kid_fetch: None,
            failed_at: None,
        }
    }
}

impl<K: Clone> Cache<K> {
    /// The next step for a token of `alg` naming `kid`, at `now`. `fetched` is `Some(ok)` when this request just
    /// fetched: it never fetches twice.
    pub fn step(
        &mut self,
        now: f64,
        alg: Alg,
        kid: Option<&str>,
        fetched: Option<bool>,
    ) -> Step<K> {
        let in_flight = self.in_flight.is_some_and(|t| now - t < IN_FLIGHT_MS);
        let failed_within = |ms: f64| self.failed_at.is_some_and(|t| now - t < ms);
        if now >= self.fresh_until + STALE_MS {
            // Keys that could not be refreshed for this long may have been revoked.
            self.keys = None;
        }
        let Some(keys) = &self.keys else {
            return if fetched.is_some() || failed_within(FAILURE_BACKOFF_MS) {
                Step::Unavailable
            } else if in_flight {
                Step::Wait
            } else {
                self.begin(now)
            };
        };
        if fetched.is_none() && now >= self.fresh_until && !in_flight && !failed_within(REFETCH_MS)
        {
            return self.begin(now);
        }
        match keys.find(alg, kid) {
            Found::Key(handle) => Step::Verify(handle),
            Found::WrongAlg => Step::Refuse("alg_mismatch"),
            Found::Unknown => match (fetched, self.last_unknown_kid_fetch) {
                (Some(true), _) => Step::Refuse("unknown_kid"),
                // Keys we could not refresh cannot say the kid is unknown.
                (Some(false), _) => Step::Unavailable,
                _ if in_flight => Step::Wait,
                (None, Some(opened)) if now - opened < REFETCH_MS => {
                    // Only keys fetched since the window opened can say the kid is unknown; after a fetch of the
                    // window that failed, or never answered, nobody knows.
                    if self.fetched_from >= opened {
                        Step::Refuse("unknown_kid")
                    } else {
                        Step::Unavailable
                    }
                }
                _ => {
                    self.last_unknown_kid_fetch = Some(now);
                    self.begin(now)
                }
            },
        }
    }

    fn begin(&mut self, now: f64) -> Step<K> {
        self.in_flight = Some(now);
        Step::Fetch
    }

    /// Keeps what a fetch that started at `started` brought at `now`: fresh keys for `max_age_secs`, or the failure
    /// (a set with no usable key is one).
    pub fn store(&mut self, started: f64, now: f64, fetched: Result<(Keys<K>, u64), ()>) {
        if self.in_flight == Some(started) {
            self.in_flight = None;
        }
        if started < self.fetched_from {
            return;
        }
        match fetched {
            Ok((keys, max_age_secs)) if !keys.keys.is_empty() => {
                self.keys = Some(keys);
                self.fresh_until = now + max_age_secs as f64 * 1000.0;
                self.fetched_from = started;
                self.failed_at = None;
            }
            _ => self.failed_at = Some(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rsa(kid: &str) -> Value {
        json!({ "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": "q".repeat(342), "e": "AQAB" })
    }

    fn ec(kid: &str) -> Value {
        json!({ "kty": "EC", "kid": kid, "crv": "P-256", "x": "x", "y": "y" })
    }

    fn keys(set: Value) -> Keys<String> {
        let parsed = parse(set.to_string().as_bytes()).expect("a key set");
        Keys {
            keys: parsed
                .into_iter()
                .map(|k| (k.clone(), k.kid.unwrap_or_default()))
                .collect(),
        }
    }

    #[test]
    fn only_signature_keys_of_the_two_algorithms_are_kept() {
        let set = json!({ "keys": [
            rsa("r"), ec("e"),
            { "kty": "RSA", "kid": "small", "n": "q".repeat(171), "e": "AQAB" },
            { "kty": "RSA", "kid": "enc", "use": "enc", "n": "q".repeat(342), "e": "AQAB" },
            { "kty": "RSA", "kid": "ps", "alg": "PS256", "n": "q".repeat(342), "e": "AQAB" },
            { "kty": "EC", "kid": "p384", "crv": "P-384", "x": "x", "y": "y" },
            { "kty": "oct", "kid": "secret", "k": "c2VjcmV0" },
            { "kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": "x" },
        ]});
        let kept: Vec<_> = parse(set.to_string().as_bytes())
            .expect("parses")
            .into_iter()
            .map(|k| k.kid)
            .collect();
        assert_eq!(kept, vec![Some("r".to_owned()), Some("e".to_owned())]);
        assert!(parse(b"{}").is_err());
        assert!(parse(b"not json").is_err());
    }

    #[test]
    fn the_imported_jwk_holds_only_the_public_members() {
        let k = parse(json!({ "keys": [rsa("r")] }).to_string().as_bytes()).expect("parses");
        assert_eq!(
            k[0].import,
            json!({ "kty": "RSA", "n": "q".repeat(342), "e": "AQAB" })
        );
    }

    #[test]
    fn a_key_is_found_by_kid_and_must_verify_the_token_s_algorithm() {
        let set = keys(json!({ "keys": [rsa("r"), ec("e")] }));
        assert_eq!(set.find(Alg::Rs256, Some("r")), Found::Key("r".to_owned()));
        assert_eq!(set.find(Alg::Es256, Some("r")), Found::WrongAlg);
        assert_eq!(set.find(Alg::Rs256, Some("zzz")), Found::Unknown);
        // Without a kid, only a set's single key of the algorithm.
        assert_eq!(set.find(Alg::Es256, None), Found::Key("e".to_owned()));
        let two = keys(json!({ "keys": [rsa("r1"), rsa("r2")] }));
        assert_eq!(two.find(Alg::Rs256, None), Found::Unknown);
    }

    #[test]
    fn cache_control_max_age_is_kept_within_five_minutes_and_a_day() {
        assert_eq!(max_age(Some("public, max-age=3600, must-revalidate")), 3600);
        assert_eq!(
            max_age(Some("max-age=15, stale-while-revalidate=15")),
            MIN_MAX_AGE_SECS
        );
        assert_eq!(max_age(Some("max-age=31536000")), MAX_MAX_AGE_SECS);
        assert_eq!(max_age(Some("no-store")), MIN_MAX_AGE_SECS);
        assert_eq!(max_age(None), MIN_MAX_AGE_SECS);
        assert_eq!(max_age(Some("MAX-AGE=\"600\"")), 600);
    }

    fn stored(now: f64, set: Value, max_age: u64) -> Cache<String> {
        let mut cache = Cache::default();
        assert_eq!(cache.step(now, Alg::Rs256, Some("r"), None), Step::Fetch);
        cache.store(now, now, Ok((keys(set), max_age)));
        cache
    }

    fn verify(kid: &str) -> Step<String> {
        Step::Verify(kid.to_owned())
    }

    #[test]
    fn a_cold_isolate_fetches_once_and_then_verifies_from_the_cache_until_max_age() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 600);
        assert_eq!(
            cache.step(0.0, Alg::Rs256, Some("r"), Some(true)),
            verify("r")
        );
        assert_eq!(
            cache.step(599_000.0, Alg::Rs256, Some("r"), None),
            verify("r")
        );
        assert_eq!(
            cache.step(600_000.0, Alg::Rs256, Some("r"), None),
            Step::Fetch
        );
        // Meanwhile, and if that refresh fails, the old keys still verify; the refresh is retried after REFETCH_MS.
        assert_eq!(
            cache.step(600_001.0, Alg::Rs256, Some("r"), None),
            verify("r")
        );
        cache.store(600_000.0, 600_002.0, Err(()));
        assert_eq!(
            cache.step(600_002.0, Alg::Rs256, Some("r"), Some(false)),
            verify("r")
        );
        assert_eq!(
            cache.step(600_002.0 + REFETCH_MS - 1.0, Alg::Rs256, Some("r"), None),
            verify("r")
        );
        assert_eq!(
            cache.step(600_002.0 + REFETCH_MS, Alg::Rs256, Some("r"), None),
            Step::Fetch
        );
    }

    #[test]
    fn concurrent_requests_of_a_cold_isolate_wait_for_the_one_fetch() {
        let mut cache: Cache<String> = Cache::default();
        assert_eq!(cache.step(0.0, Alg::Rs256, Some("r"), None), Step::Fetch);
        assert_eq!(cache.step(10.0, Alg::Rs256, Some("r"), None), Step::Wait);
        assert_eq!(cache.step(20.0, Alg::Es256, None, None), Step::Wait);
        cache.store(0.0, 30.0, Ok((keys(json!({ "keys": [rsa("r")] })), 600)));
        assert_eq!(cache.step(40.0, Alg::Rs256, Some("r"), None), verify("r"));
        // A fetch that never answers (its request went away) stops holding the others back.
        let mut lost: Cache<String> = Cache::default();
        assert_eq!(lost.step(0.0, Alg::Rs256, Some("r"), None), Step::Fetch);
        assert_eq!(
            lost.step(IN_FLIGHT_MS - 1.0, Alg::Rs256, Some("r"), None),
            Step::Wait
        );
        assert_eq!(
            lost.step(IN_FLIGHT_MS, Alg::Rs256, Some("r"), None),
            Step::Fetch
        );
    }

    #[test]
    fn an_older_fetch_that_answers_late_does_not_replace_newer_keys() {
        let mut cache: Cache<String> = Cache::default();
        assert_eq!(cache.step(0.0, Alg::Rs256, Some("r"), None), Step::Fetch);
        // That fetch is taken for lost; a second one starts and brings the rotated set.
        assert_eq!(
            cache.step(IN_FLIGHT_MS, Alg::Rs256, Some("new"), None),
            Step::Fetch
        );
        cache.store(
            IN_FLIGHT_MS,
            IN_FLIGHT_MS + 1.0,
            Ok((keys(json!({ "keys": [rsa("new")] })), 600)),
        );
        cache.store(
            0.0,
            IN_FLIGHT_MS + 2.0,
            Ok((keys(json!({ "keys": [rsa("r")] })), 600)),
        );
        cache.store(0.0, IN_FLIGHT_MS + 3.0, Err(()));
        assert_eq!(
            cache.step(IN_FLIGHT_MS + 4.0, Alg::Rs256, Some("new"), None),
            verify("new")
        );
    }

    #[test]
    fn a_key_set_without_a_usable_key_is_a_failed_fetch() {
        let mut cache: Cache<String> = Cache::default();
        assert_eq!(cache.step(0.0, Alg::Rs256, Some("r"), None), Step::Fetch);
        cache.store(0.0, 1.0, Ok((keys(json!({ "keys": [] })), 600)));
        assert_eq!(
            cache.step(1.0, Alg::Rs256, Some("r"), Some(false)),
            Step::Unavailable
        );
        assert_eq!(
            cache.step(2.0, Alg::Rs256, Some("r"), None),
            Step::Unavailable
        );
    }

    #[test]
    fn keys_that_cannot_be_refreshed_are_dropped_an_hour_past_their_max_age() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 600);
        let mut t = 600_000.0;
        while t < 600_000.0 + STALE_MS {
            if cache.step(t, Alg::Rs256, Some("r"), None) == Step::Fetch {
                cache.store(t, t, Err(()));
            }
            assert_eq!(
                cache.step(t, Alg::Rs256, Some("r"), Some(false)),
                verify("r"),
                "at {t}"
            );
            t += 10_000.0;
        }
        let t = 600_000.0 + STALE_MS;
        assert_eq!(cache.step(t, Alg::Rs256, Some("r"), None), Step::Fetch);
        cache.store(t, t, Err(()));
        assert_eq!(
            cache.step(t, Alg::Rs256, Some("r"), Some(false)),
            Step::Unavailable
        );
    }

    #[test]
    fn an_unknown_kid_fetches_again_at_most_once_per_window() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 3600);
        // A rotation: the new kid is fetched at once, even right after the first fetch.
        assert_eq!(
            cache.step(1_000.0, Alg::Rs256, Some("new"), None),
            Step::Fetch
        );
        // While it is under way, another request naming the new kid waits for it.
        assert_eq!(
            cache.step(1_001.0, Alg::Rs256, Some("new"), None),
            Step::Wait
        );
        cache.store(
            1_000.0,
            1_002.0,
            Ok((keys(json!({ "keys": [rsa("r"), rsa("new")] })), 3600)),
        );
        assert_eq!(
            cache.step(1_002.0, Alg::Rs256, Some("new"), Some(true)),
            verify("new")
        );
        assert_eq!(
            cache.step(1_003.0, Alg::Rs256, Some("new"), None),
            verify("new")
        );
        // Made-up kids within the window are refused without a fetch.
        assert_eq!(
            cache.step(2_000.0, Alg::Rs256, Some("made-up"), None),
            Step::Refuse("unknown_kid")
        );
        assert_eq!(
            cache.step(1_000.0 + REFETCH_MS - 1.0, Alg::Rs256, Some("x"), None),
            Step::Refuse("unknown_kid")
        );
        let t = 1_000.0 + REFETCH_MS;
        assert_eq!(cache.step(t, Alg::Rs256, Some("x"), None), Step::Fetch);
        cache.store(t, t, Ok((keys(json!({ "keys": [rsa("r")] })), 3600)));
        assert_eq!(
            cache.step(t, Alg::Rs256, Some("x"), Some(true)),
            Step::Refuse("unknown_kid")
        );
    }

    #[test]
    fn without_keys_a_failed_fetch_is_unavailable_and_is_not_retried_at_once() {
        let mut cache: Cache<String> = Cache::default();
        assert_eq!(cache.step(0.0, Alg::Es256, Some("e"), None), Step::Fetch);
        cache.store(0.0, 0.0, Err(()));
        assert_eq!(
            cache.step(0.0, Alg::Es256, Some("e"), Some(false)),
            Step::Unavailable
        );
        assert_eq!(
            cache.step(FAILURE_BACKOFF_MS - 1.0, Alg::Es256, Some("e"), None),
            Step::Unavailable
        );
        assert_eq!(
            cache.step(FAILURE_BACKOFF_MS, Alg::Es256, Some("e"), None),
            Step::Fetch
        );
    }

    #[test]
    fn an_unknown_kid_that_could_not_be_refetched_is_unavailable_not_invalid() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 3600);
        assert_eq!(cache.step(1.0, Alg::Rs256, Some("new"), None), Step::Fetch);
        cache.store(1.0, 1.0, Err(()));
        assert_eq!(
            cache.step(1.0, Alg::Rs256, Some("new"), Some(false)),
            Step::Unavailable
        );
        // For the rest of the window too: only keys fetched since could say the kid is unknown.
        assert_eq!(
            cache.step(2.0, Alg::Rs256, Some("new"), None),
            Step::Unavailable
        );
        assert_eq!(
            cache.step(REFETCH_MS, Alg::Rs256, Some("new"), None),
            Step::Unavailable
        );
        assert_eq!(cache.step(2.0, Alg::Rs256, Some("r"), None), verify("r"));
        assert_eq!(
            cache.step(1.0 + REFETCH_MS, Alg::Rs256, Some("new"), None),
            Step::Fetch
        );
    }

    #[test]
    fn an_unknown_kid_whose_fetch_never_answered_is_unavailable_not_refused() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 3600);
        assert_eq!(cache.step(1.0, Alg::Rs256, Some("new"), None), Step::Fetch);
        // That request went away: no store. Once the fetch counts as lost, the rest of the window is a 503.
        assert_eq!(cache.step(2.0, Alg::Rs256, Some("new"), None), Step::Wait);
        assert_eq!(
            cache.step(1.0 + IN_FLIGHT_MS, Alg::Rs256, Some("new"), None),
            Step::Unavailable
        );
        assert_eq!(
            cache.step(1.0 + REFETCH_MS, Alg::Rs256, Some("new"), None),
            Step::Fetch
        );
    }

    #[test]
    fn a_kid_of_another_algorithm_is_refused_without_a_fetch() {
        let mut cache = stored(0.0, json!({ "keys": [rsa("r")] }), 3600);
        assert_eq!(
            cache.step(1.0, Alg::Es256, Some("r"), None),
            Step::Refuse("alg_mismatch")
        );
    }
}
