//! HMAC-SHA256 with a key of any length: the keys the site derives from its secrets (link
//! signatures, registration digests) and the MACs made with them.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub type HmacSha256 = Hmac<Sha256>;

/// A MAC keyed with `key`, of any length.
pub fn new_mac(key: &[u8]) -> HmacSha256 {
    // HMAC takes a key of any length; `new_from_slice` only refuses for fixed-size MACs.
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => unreachable_hmac(),
    }
}

#[cold]
fn unreachable_hmac() -> HmacSha256 {
    // Not reachable: HMAC accepts every key length. A fixed key keeps this total without a panic.
    <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default())
}

/// HMAC-SHA256 of the parts, one after the other, under `key`.
pub fn hmac_of(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = new_mac(key);
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}
