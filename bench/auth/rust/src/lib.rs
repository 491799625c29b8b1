//! Bare `extern "C"` exports (no wasm-bindgen) so Node can instantiate the module with no imports and call the
//! verifiers directly. The caller gets buffers from `alloc`, writes the key, message and signature into them, and
//! calls a verifier. Keys are raw JWK components: RSA `n` and `e` big-endian bytes, P-256 the SEC1 point
//! 0x04||x||y, because that is what a JWKS gives a worker. Signatures are JWS bytes: RSA PKCS#1 v1.5 (256 bytes
//! for a 2048-bit key), ECDSA r||s (64 bytes).

// std (not no_std): the worker links std anyway, and std gives wasm32 its allocator (dlmalloc) and panic path.

use std::slice;

/// Returns a buffer of `len` bytes that the caller owns for the module's lifetime (the bench never frees).
#[unsafe(no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    let mut v = Vec::<u8>::with_capacity(len);
    let p = v.as_mut_ptr();
    std::mem::forget(v);
    p
}

unsafe fn bytes<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    unsafe { slice::from_raw_parts(ptr, len) }
}

/// The one trivial export of the empty variant. It indexes a buffer with a caller's index, so the empty module
/// keeps the allocator and the formatted bounds-check panic, which the worker already has; subtracting it then
/// counts only what verification adds.
#[cfg(not(feature = "verify"))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn byte_at(ptr: *const u8, len: usize, i: usize) -> u32 {
    unsafe { bytes(ptr, len)[i] as u32 }
}

#[cfg(feature = "verify")]
mod verify {
    use super::bytes;
    // rsa and p256 share the `signature` crate (v3), so one trait import serves both.
    use p256::ecdsa::signature::Verifier as _;
    use rsa::{BoxedUint, PublicKey, pkcs1v15};
    use sha2::Sha256;

    fn rsa_key(n: &[u8], e: &[u8]) -> Option<pkcs1v15::VerifyingKey<Sha256>> {
        // Precision is the byte length in bits, which is what the JWK's `n` carries (no leading zero byte).
        let n = BoxedUint::from_be_slice(n, (n.len() * 8) as u32).ok()?;
        let e = BoxedUint::from_be_slice(e, 64).ok()?;
        Some(pkcs1v15::VerifyingKey::new(PublicKey::new(n, e).ok()?))
    }

    fn ec_key(point: &[u8]) -> Option<p256::ecdsa::VerifyingKey> {
        p256::ecdsa::VerifyingKey::from_sec1_bytes(point).ok()
    }

    /// Counts successes so a loop with a broken input shows up as a count below `iters`, not a silent speedup.
    fn count(iters: u32, mut f: impl FnMut() -> bool) -> u32 {
        (0..iters).map(|_| f() as u32).sum()
    }

    /// RS256: verifies `iters` times with one parsed key (what a worker does after caching the JWKS key);
    /// returns the number of successes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn rs256_verify_n(
        n: *const u8, n_len: usize, e: *const u8, e_len: usize,
        msg: *const u8, msg_len: usize, sig: *const u8, sig_len: usize, iters: u32,
    ) -> u32 {
        let (n, e, msg, sig) = unsafe { (bytes(n, n_len), bytes(e, e_len), bytes(msg, msg_len), bytes(sig, sig_len)) };
        let (Some(key), Ok(sig)) = (rsa_key(n, e), pkcs1v15::Signature::try_from(sig)) else { return 0 };
        count(iters, || key.verify(msg, &sig).is_ok())
    }

    /// RS256 key parse `iters` times (the crate's counterpart of Web Crypto's importKey); returns successes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn rs256_parse_n(n: *const u8, n_len: usize, e: *const u8, e_len: usize, iters: u32) -> u32 {
        let (n, e) = unsafe { (bytes(n, n_len), bytes(e, e_len)) };
        count(iters, || std::hint::black_box(rsa_key(n, e)).is_some())
    }

    /// ES256: verifies `iters` times with one parsed key; returns the number of successes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn es256_verify_n(
        point: *const u8, point_len: usize, msg: *const u8, msg_len: usize, sig: *const u8, sig_len: usize, iters: u32,
    ) -> u32 {
        let (point, msg, sig) = unsafe { (bytes(point, point_len), bytes(msg, msg_len), bytes(sig, sig_len)) };
        let (Some(key), Ok(sig)) = (ec_key(point), p256::ecdsa::Signature::from_slice(sig)) else { return 0 };
        count(iters, || key.verify(msg, &sig).is_ok())
    }

    /// ES256 key parse (point decoding and on-curve check) `iters` times; returns successes.
    #[unsafe(no_mangle)]
    pub unsafe extern "C" fn es256_parse_n(point: *const u8, point_len: usize, iters: u32) -> u32 {
        let point = unsafe { bytes(point, point_len) };
        count(iters, || std::hint::black_box(ec_key(point)).is_some())
    }
}
