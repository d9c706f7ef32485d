//! What the sentiment evals share.

/// Dev or test, as `eval/heldout.py` decides: the top bit of the 64-bit
/// FNV-1a hash of the key, through MurmurHash3's finaliser (0 is dev).
pub fn is_test(key: &str) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h >> 63 == 1
}
