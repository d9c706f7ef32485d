// Shared by build.rs (through `include!`) and the scorer, so that the table
// generated at build time and the lookups at run time hash keys identically.
//
// The lexicon is a perfect hash table ("hash and displace"): the high half
// of a key's 64-bit hash picks a bucket, the bucket's seed (found by
// build.rs) picks the key's slot, and the low half is stored in the slot as
// the key's fingerprint. So a lookup reads one seed, one fingerprint and one
// entry. Keys themselves are not stored, which keeps the table small (every
// WebAssembly instance pages it in afresh): a word missing from the lexicon
// passes for the word in its slot only if their 32-bit fingerprints agree,
// about once in four billion such lookups. A one-bit-per-key filter in front
// rejects most words that are not in the lexicon before the table is touched.

/// Words of the filter: 8 KiB, small enough to stay in the L1 cache.
pub(crate) const FILTER_WORDS: usize = 1024;

/// Initial hash state; keys are hashed by 8-byte chunks, so that the scanner
/// can hash a word with no per-byte work (see `tokens.rs`).
pub(crate) const HASH_SEED: u64 = 0x9e37_79b9_7f4a_7c15;

/// Mixes the next 8 lower-cased bytes of a key, read as a little-endian
/// `u64` (the last chunk zero-padded), into the hash state.
#[inline(always)]
pub(crate) fn mix_chunk(state: u64, chunk: u64) -> u64 {
    let x = (state ^ chunk).wrapping_mul(HASH_SEED);
    x ^ (x >> 32)
}

/// The hash of a key of `len` bytes from its final state.
#[inline(always)]
pub(crate) fn hash_finish(state: u64, len: usize) -> u64 {
    (state ^ len as u64).wrapping_mul(0xd6e8_feb8_6659_fd93)
}

/// The half of a hash that places a key: filter bit, bucket and slot.
#[inline(always)]
pub(crate) fn place(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// The half of a hash stored in the key's slot to recognise it.
#[inline(always)]
pub(crate) fn fingerprint(hash: u64) -> u32 {
    hash as u32
}

/// The hash of `key`, ignoring ASCII case.
pub(crate) fn hash_key(key: &[u8]) -> u64 {
    let state = key.chunks(8).fold(HASH_SEED, |state, part| {
        let mut chunk = [0u8; 8];
        for (dst, src) in chunk.iter_mut().zip(part) {
            *dst = src.to_ascii_lowercase();
        }
        mix_chunk(state, u64::from_le_bytes(chunk))
    });
    hash_finish(state, key.len())
}

/// `x` scaled from the full `u32` range to `0..n`.
#[inline(always)]
fn reduce(x: u32, n: usize) -> usize {
    ((u64::from(x) * n as u64) >> 32) as usize
}

// `place` is well mixed already (see `hash_finish`), so the filter and the
// buckets take its bits as they are: low bits for one, high for the other.

/// The filter bit of a key.
#[inline(always)]
pub(crate) fn filter_bit(place: u32) -> usize {
    place as usize % (FILTER_WORDS * 64)
}

/// The bucket of a key among `buckets`.
#[inline(always)]
pub(crate) fn bucket(place: u32, buckets: usize) -> usize {
    reduce(place, buckets)
}

/// The slot of a key among `slots` when its bucket has `seed`.
#[inline(always)]
pub(crate) fn slot(place: u32, seed: u16, slots: usize) -> usize {
    reduce(
        (place ^ u32::from(seed).wrapping_mul(0x2c1b_3c6d)).wrapping_mul(0x297a_2d39),
        slots,
    )
}
