//! Where polling goes on: the poll state and the walk up a newest-first listing.
//!
//! Reddit lists newest first. A poll asks for the page right above the newest
//! thing seen (`before=<fullname>`, the `limit` things closest to it, still
//! newest first) and moves the cursor to the top of that page, so new things
//! come once each, oldest first, however many arrive between polls.
//!
//! Reddit answers an anchor it cannot find (a deleted comment, a post that
//! left the search index) with an empty page, the same answer as "nothing
//! new". So an empty page is checked against the newest page: anchor there,
//! nothing new above it; anchor gone, what is newer than its time is new.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

use crate::entities::Item;

/// Things per page: Reddit's maximum `limit`.
pub const PAGE_SIZE: usize = 100;
/// Pages read down from the newest to find where a lost anchor was.
const MAX_RECOVERY_PAGES: usize = 3;

/// The poll state: a cursor per listing read.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbox: Option<Cursor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchCursor>,
}

/// The newest thing seen in a listing.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// Its fullname, the `before` anchor.
    pub newest: String,
    /// Its `created_utc`, to find the place again when the anchor is gone.
    pub created: f64,
}

/// A search cursor holds for one search only: another query starts afresh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCursor {
    #[serde(rename = "for")]
    pub search: String,
    pub cursor: Cursor,
}

impl State {
    /// The empty state on the first poll.
    pub fn parse(text: &str) -> Result<State, PluginError> {
        if text.trim().is_empty() {
            return Ok(State::default());
        }
        // Only an object: serde would also read `[]` as the empty state.
        let object = text.trim_start().starts_with('{');
        serde_json::from_str::<State>(text)
            .ok()
            .filter(|_| object)
            .filter(|s| {
                let cursors = s.inbox.iter().chain(s.search.iter().map(|s| &s.cursor));
                cursors.into_iter().all(|c| !c.newest.trim().is_empty())
            })
            .ok_or_else(|| {
                let shown: String = text.chars().take(100).collect();
                PluginError::Permanent(format!(
                    "unreadable poll state `{shown}`: expected {{\"inbox\":{{\"newest\":\"<fullname>\",\"created\":<seconds>}}}}"
                ))
            })
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Which page to fetch: the newest, the one above a thing, or the one below it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Anchor<'a> {
    Newest,
    Before(&'a str),
    After(&'a str),
}

/// What one poll took from a listing.
pub struct Walked {
    /// Oldest first.
    pub items: Vec<Item>,
    pub cursor: Option<Cursor>,
    /// A page of new things is waiting above these.
    pub has_more: bool,
    /// The anchor was lost under more new things than were read: older ones were skipped.
    pub gap: bool,
}

/// The next things of a listing after `cursor`; `fetch` reads one page
/// (newest first) and tells whether more are above it.
pub fn walk(
    cursor: Option<&Cursor>,
    mut fetch: impl FnMut(Anchor) -> Result<(Vec<Item>, bool), PluginError>,
) -> Result<Walked, PluginError> {
    // Without a cursor only the newest page: the account's history is not news.
    let Some(cursor) = cursor else {
        let (page, _) = fetch(Anchor::Newest)?;
        return Ok(walked(page, None, false));
    };
    let (page, more_above) = fetch(Anchor::Before(&cursor.newest))?;
    if !page.is_empty() {
        let has_more = more_above || page.len() >= PAGE_SIZE;
        return Ok(walked(page, Some(cursor), has_more));
    }
    let mut newer = Vec::new();
    let mut top = None;
    let mut after: Option<String> = None;
    for _ in 0..MAX_RECOVERY_PAGES {
        let (page, _) = match &after {
            None => fetch(Anchor::Newest)?,
            Some(name) => fetch(Anchor::After(name))?,
        };
        // The top of the listing is the next anchor, whether new or not: a
        // lost one would cost this second request on every later poll.
        top = top.or_else(|| page.first().map(cursor_of));
        if let Some(at) = page.iter().position(|i| i.name == cursor.newest) {
            newer.extend(page.into_iter().take(at));
            return Ok(recovered(newer, top, cursor, false));
        }
        let full = page.len() >= PAGE_SIZE;
        let reached = page.iter().any(|i| !is_newer(i, cursor));
        after = page.last().map(|i| i.name.clone()).filter(|_| full && !reached);
        newer.extend(page.into_iter().filter(|i| is_newer(i, cursor)));
        if after.is_none() {
            return Ok(recovered(newer, top, cursor, false));
        }
    }
    Ok(recovered(newer, top, cursor, true))
}

/// Whether `item` came after the cursor's thing: a later time, or the same
/// second and a higher id of the same kind (Reddit's ids are base-36
/// sequence numbers). Things of another kind in the same second count as
/// newer: a repeat collapses in the host, a loss would not come back.
fn is_newer(item: &Item, cursor: &Cursor) -> bool {
    match item.created.total_cmp(&cursor.created) {
        Ordering::Greater => true,
        Ordering::Less => false,
        Ordering::Equal => match (item.name.split_once('_'), cursor.newest.split_once('_')) {
            (Some((kind, id)), Some((anchor_kind, anchor_id))) if kind == anchor_kind => {
                cmp_base36(id, anchor_id) == Ordering::Greater
            }
            _ => item.name != cursor.newest,
        },
    }
}

/// Compares base-36 numbers of any length, case-insensitively.
fn cmp_base36(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len()
        .cmp(&b.len())
        .then_with(|| a.to_ascii_lowercase().cmp(&b.to_ascii_lowercase()))
}

fn cursor_of(item: &Item) -> Cursor {
    Cursor {
        newest: item.name.clone(),
        created: item.created,
    }
}

/// A newest-first page as oldest-first items, the cursor on its top.
fn walked(mut page: Vec<Item>, previous: Option<&Cursor>, has_more: bool) -> Walked {
    let cursor = page.first().map(cursor_of).or_else(|| previous.cloned());
    page.reverse();
    Walked {
        items: page,
        cursor,
        has_more,
        gap: false,
    }
}

fn recovered(mut newer: Vec<Item>, top: Option<Cursor>, previous: &Cursor, gap: bool) -> Walked {
    newer.reverse();
    Walked {
        items: newer,
        cursor: top.or_else(|| Some(previous.clone())),
        has_more: false,
        gap,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A listing as Reddit pages it: `names` newest first; an anchor it does
    /// not hold gives an empty page.
    struct Listing {
        names: Vec<(String, f64)>,
        requests: Vec<String>,
    }

    impl Listing {
        /// `count` things, `t1_0` the oldest, one second apart.
        fn new(count: usize) -> Listing {
            let mut listing = Listing {
                names: Vec::new(),
                requests: Vec::new(),
            };
            listing.push(count);
            listing
        }

        fn push(&mut self, count: usize) {
            let start = self.names.len();
            for i in start..start + count {
                self.names.insert(0, (format!("t1_{i}"), 1_000.0 + i as f64));
            }
        }

        fn remove(&mut self, name: &str) {
            self.names.retain(|(n, _)| n != name);
        }

        fn fetch(&mut self, anchor: Anchor) -> Result<(Vec<Item>, bool), PluginError> {
            self.requests.push(format!("{anchor:?}"));
            let item = |(name, created): &(String, f64)| Item {
                name: name.clone(),
                created: *created,
                post: None,
            };
            let at = |name: &str| self.names.iter().position(|(n, _)| n == name);
            Ok(match anchor {
                Anchor::Newest => (self.names.iter().take(PAGE_SIZE).map(item).collect(), false),
                Anchor::After(name) => match at(name) {
                    Some(i) => (self.names[i + 1..].iter().take(PAGE_SIZE).map(item).collect(), i > 0),
                    None => (Vec::new(), false),
                },
                Anchor::Before(name) => match at(name) {
                    Some(i) => {
                        let from = i.saturating_sub(PAGE_SIZE);
                        (self.names[from..i].iter().map(item).collect(), from > 0)
                    }
                    None => (Vec::new(), false),
                },
            })
        }

        fn poll(&mut self, cursor: Option<&Cursor>) -> (Vec<String>, Option<Cursor>, bool, bool) {
            let walked = walk(cursor, |anchor| self.fetch(anchor)).expect("walks");
            let names = walked.items.iter().map(|i| i.name.clone()).collect();
            (names, walked.cursor, walked.has_more, walked.gap)
        }
    }

    fn names(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("t1_{i}")).collect()
    }

    #[test]
    fn first_poll_takes_the_newest_page_then_walks_up_once_each() {
        let mut listing = Listing::new(150);
        let (first, cursor, more, _) = listing.poll(None);
        assert_eq!(first, names(50..150), "the newest page, oldest first");
        assert!(!more);
        let cursor = cursor.expect("a cursor");
        assert_eq!((cursor.newest.as_str(), cursor.created), ("t1_149", 1_149.0));

        listing.push(250);
        let mut seen = Vec::new();
        let mut pages = Vec::new();
        let mut cursor = Some(cursor);
        loop {
            let (page, next, more, gap) = listing.poll(cursor.as_ref());
            assert!(!gap);
            pages.push((page.len(), more));
            seen.extend(page);
            cursor = next;
            if !more {
                break;
            }
        }
        assert_eq!(pages, [(100, true), (100, true), (50, false)]);
        assert_eq!(seen, names(150..400));

        let requests = listing.requests.len();
        let (empty, same, more, _) = listing.poll(cursor.as_ref());
        assert!(empty.is_empty() && !more);
        assert_eq!(same, cursor, "nothing new keeps the cursor");
        assert_eq!(listing.requests.len(), requests + 2, "the empty page is checked once");
    }

    #[test]
    fn an_empty_listing_has_no_cursor_yet() {
        let mut listing = Listing::new(0);
        assert_eq!(listing.poll(None), (vec![], None, false, false));
        listing.push(3);
        assert_eq!(listing.poll(None).0, names(0..3));
    }

    #[test]
    fn a_lost_anchor_is_found_again_by_time() {
        let mut listing = Listing::new(10);
        let cursor = listing.poll(None).1;
        listing.push(5);
        listing.remove("t1_9");
        let (page, cursor, more, gap) = listing.poll(cursor.as_ref());
        assert_eq!(page, names(10..15), "nothing older again, nothing new missed");
        assert!(!more && !gap);
        assert_eq!(cursor.as_ref().map(|c| c.newest.as_str()), Some("t1_14"));
        assert_eq!(listing.requests[1..], ["Before(\"t1_9\")", "Newest"]);

        // Lost with nothing new: the cursor moves to what is there, so the
        // next poll costs one request again.
        listing.remove("t1_14");
        let (page, cursor, _, _) = listing.poll(cursor.as_ref());
        assert!(page.is_empty());
        assert_eq!(cursor.as_ref().map(|c| c.newest.as_str()), Some("t1_13"));
        let before = listing.requests.len();
        listing.poll(cursor.as_ref());
        assert_eq!(
            listing.requests.len(),
            before + 2,
            "an anchor that is there: before, then the check"
        );
    }

    #[test]
    fn a_lost_anchor_under_pages_of_new_things_reads_down() {
        let mut listing = Listing::new(10);
        let cursor = listing.poll(None).1;
        listing.push(250);
        listing.remove("t1_9");
        let (page, _, _, gap) = listing.poll(cursor.as_ref());
        assert_eq!(page, names(10..260));
        assert!(!gap);
        assert_eq!(
            listing.requests[2..],
            ["Newest", "After(\"t1_160\")", "After(\"t1_60\")"]
        );

        let mut listing = Listing::new(10);
        let cursor = listing.poll(None).1;
        listing.push(400);
        listing.remove("t1_9");
        let (page, _, _, gap) = listing.poll(cursor.as_ref());
        assert_eq!(page, names(110..410), "the newest three pages");
        assert!(gap, "and the skip is reported");
    }

    #[test]
    fn things_of_the_same_second_are_ordered_by_id() {
        let cursor = Cursor {
            newest: "t1_gs5022f".into(),
            created: 5.0,
        };
        let item = |name: &str, created: f64| Item {
            name: name.into(),
            created,
            post: None,
        };
        assert!(is_newer(&item("t1_a", 6.0), &cursor));
        assert!(!is_newer(&item("t1_zzzzzzz", 4.0), &cursor));
        assert!(is_newer(&item("t1_gs5022g", 5.0), &cursor));
        assert!(is_newer(&item("t1_GS50230", 5.0), &cursor));
        assert!(is_newer(&item("t1_10000000", 5.0), &cursor), "longer is larger");
        assert!(!is_newer(&item("t1_gs5022f", 5.0), &cursor));
        assert!(!is_newer(&item("t1_gs5022e", 5.0), &cursor));
        assert!(!is_newer(&item("t1_zzzzzz", 5.0), &cursor), "shorter is smaller");
        assert!(is_newer(&item("t4_a", 5.0), &cursor), "another kind: kept");
    }

    #[test]
    fn a_lost_anchor_among_things_of_its_second_repeats_none() {
        let mut listing = Listing::new(3);
        for entry in listing.names.iter_mut() {
            entry.1 = 7.0;
        }
        let cursor = listing.poll(None).1;
        listing.push(2);
        listing.remove("t1_2");
        let (page, _, _, _) = listing.poll(cursor.as_ref());
        assert_eq!(page, names(3..5));
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), State::default());
        let state = State {
            inbox: Some(Cursor {
                newest: "t1_abc".into(),
                created: 1_616_648_939.0,
            }),
            search: Some(SearchCursor {
                search: "acme".into(),
                cursor: Cursor {
                    newest: "t3_x".into(),
                    created: 1.5,
                },
            }),
        };
        let encoded = state.encode();
        assert_eq!(
            encoded,
            r#"{"inbox":{"newest":"t1_abc","created":1616648939.0},"search":{"for":"acme","cursor":{"newest":"t3_x","created":1.5}}}"#
        );
        assert_eq!(State::parse(&encoded).unwrap(), state);
        assert_eq!(State::default().encode(), "{}");
        for bad in [
            "garbage",
            r#"{"inbox":{"newest":"","created":1}}"#,
            r#"{"newest":"1"}"#,
            "[]",
        ] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }
}
