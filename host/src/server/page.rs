//! Cursor pagination: a list answers `{"items", "next_cursor"}`; the cursor is
//! the sort key of the last item, opaque to clients (base64url JSON).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// One page of a list.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// A list that is not paged (the top of a ranking, a short list).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Items<T> {
    pub items: Vec<T>,
}

impl<T> Page<T> {
    /// A page of `limit` asked items: full means there may be more, after the
    /// key of its last item.
    pub fn of<K: Serialize>(items: Vec<T>, limit: i64, key: impl Fn(&T) -> K) -> Page<T> {
        let next_cursor = match items.last() {
            Some(last) if items.len() as i64 == limit => Some(encode(&key(last))),
            _ => None,
        };
        Page { items, next_cursor }
    }
}

/// The page size asked for, checked.
pub fn limit(asked: Option<i64>) -> Result<i64, ApiError> {
    let limit = asked.unwrap_or(DEFAULT_LIMIT);
    if (1..=MAX_LIMIT).contains(&limit) {
        Ok(limit)
    } else {
        Err(ApiError::bad_request(format!("limit must be 1 to {MAX_LIMIT}")))
    }
}

/// The last millisecond of year 9999: times past it (or before 1970) are no
/// post's or entry's, and would overflow the bucket arithmetic.
pub const LATEST_MS: i64 = 253_402_300_799_999;

/// `since` and `until` parameters, checked: Unix ms from 0 to [`LATEST_MS`].
pub fn since_until(times: impl IntoIterator<Item = i64>) -> Result<(), ApiError> {
    if times.into_iter().all(|t| (0..=LATEST_MS).contains(&t)) {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "since and until must be Unix ms from 0 to {LATEST_MS}"
        )))
    }
}

fn encode(key: &impl Serialize) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(key).unwrap_or_default())
}

/// The key in `cursor`, if one was given.
pub fn decode<K: DeserializeOwned>(cursor: Option<&str>) -> Result<Option<K>, ApiError> {
    let Some(cursor) = cursor else { return Ok(None) };
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .map(Some)
        .ok_or_else(|| ApiError::bad_request("invalid cursor: pass back a next_cursor unchanged"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_has_a_cursor_that_decodes_to_its_last_key() {
        let page = Page::of(vec![(3.5, 9), (1.25, 4)], 2, |item| *item);
        let key: Option<(f64, i64)> = decode(page.next_cursor.as_deref()).ok().flatten();
        assert_eq!(key, Some((1.25, 4)));
        assert!(Page::of(vec![1], 2, |i| *i).next_cursor.is_none());
        assert!(decode::<(f64, i64)>(Some("not base64!")).is_err());
        assert!(limit(Some(0)).is_err() && limit(Some(201)).is_err());
        assert_eq!(limit(None).ok(), Some(DEFAULT_LIMIT));
    }

    proptest::proptest! {
        /// The inbox's cursor holds a stored priority key: read back 1 ULP
        /// off, the next page would skip or repeat a post.
        #[test]
        fn a_float_key_comes_back_exactly(key in proptest::num::f64::NORMAL | proptest::num::f64::SUBNORMAL, id: i64) {
            let page = Page::of(vec![(key, id)], 1, |item| *item);
            let back: Option<(f64, i64)> = decode(page.next_cursor.as_deref()).ok().flatten();
            proptest::prop_assert_eq!(back.map(|(k, i)| (k.to_bits(), i)), Some((key.to_bits(), id)));
        }
    }
}
