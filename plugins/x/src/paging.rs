//! Where polling goes on: the poll state and the walk down X's newest-first timelines.
//!
//! X lists a timeline newest first. `since_id=S` bounds it below; `next_token`
//! (the `pagination_token` of the following request) walks down toward `S`.
//! So a poll that finds more than a page of new posts keeps the token and the
//! top of the first page in its state, and the next polls walk down page by
//! page under the same `since_id`; when the walk reaches `S`, the top becomes
//! the new `since_id`. Posts that arrive meanwhile sit above the top and come
//! with the next walk: each post once, whatever the timing.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

/// Posts per page: the largest `max_results` both endpoints take.
pub const PAGE_SIZE: u32 = 100;

/// The poll state: where each timeline read stands.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default, skip_serializing_if = "Cursor::is_fresh")]
    pub mentions: Cursor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<SearchCursor>,
}

/// One timeline's place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// The newest id taken: later polls read above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// A walk down toward `since`, still under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk: Option<Walk>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walk {
    /// The `next_token` of the last page read.
    pub token: String,
    /// The newest id of the walk's first page: `since` once the walk is done.
    pub top: String,
}

/// A search cursor holds for one query only: other keywords start afresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchCursor {
    #[serde(rename = "for")]
    pub query: String,
    pub cursor: Cursor,
}

/// What to ask a timeline for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fetch<'a> {
    pub since_id: Option<&'a str>,
    pub token: Option<&'a str>,
}

/// What a page said about where it stands (`meta` of a timeline answer).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub newest_id: Option<String>,
    pub next_token: Option<String>,
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
            .ok_or_else(|| {
                let shown: String = text.chars().take(100).collect();
                PluginError::Permanent(format!(
                    "unreadable poll state `{shown}`: expected {{\"mentions\":{{\"since\":\"<post id>\"}}}}"
                ))
            })
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl Cursor {
    fn is_fresh(&self) -> bool {
        self.since.is_none() && self.walk.is_none()
    }

    /// The request of the next page.
    pub fn fetch(&self) -> Fetch<'_> {
        Fetch {
            since_id: self.since.as_deref(),
            token: self.walk.as_ref().map(|w| w.token.as_str()),
        }
    }

    /// Where the timeline stands after the page `fetch` asked for.
    pub fn advance(&self, seen: Seen) -> Cursor {
        let Some(since) = &self.since else {
            // The first poll takes the newest page only: the account's history is not news.
            return Cursor {
                since: seen.newest_id,
                walk: None,
            };
        };
        let top = match &self.walk {
            Some(walk) => walk.top.clone(),
            None => match seen.newest_id {
                Some(newest) if cmp_ids(&newest, since) == Ordering::Greater => newest,
                // Nothing new (or a confused server): never go back.
                _ => since.clone(),
            },
        };
        match seen.next_token {
            Some(token) => Cursor {
                since: Some(since.clone()),
                walk: Some(Walk { token, top }),
            },
            None => Cursor {
                since: Some(top),
                walk: None,
            },
        }
    }

    /// More pages are waiting now.
    pub fn has_more(&self) -> bool {
        self.walk.is_some()
    }
}

/// Orders X's ids (decimal snowflakes of varying length) as numbers.
pub fn cmp_ids(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeline as X pages it: ids newest first; a token is the id to go on below.
    struct Timeline {
        ids: Vec<u64>,
        page: usize,
    }

    impl Timeline {
        fn read(&self, fetch: Fetch) -> (Vec<u64>, Seen) {
            let since: u64 = fetch.since_id.map_or(0, |s| s.parse().unwrap());
            let below: u64 = fetch.token.map_or(u64::MAX, |t| t.parse().unwrap());
            let all: Vec<u64> = self.ids.iter().copied().filter(|&i| i > since && i < below).collect();
            let page: Vec<u64> = all.iter().copied().take(self.page).collect();
            let next_token = (all.len() > page.len()).then(|| page.last().unwrap().to_string());
            let newest_id = page.first().map(u64::to_string);
            (page, Seen { newest_id, next_token })
        }

        fn push(&mut self, ids: impl Iterator<Item = u64>) {
            for id in ids {
                self.ids.insert(0, id);
            }
        }
    }

    #[test]
    fn walks_down_page_by_page_and_takes_arrivals_once() {
        let mut timeline = Timeline {
            ids: (1..=30).rev().collect(),
            page: 10,
        };
        let mut cursor = Cursor::default();
        let (first, seen) = timeline.read(cursor.fetch());
        cursor = cursor.advance(seen);
        assert_eq!(first, (21..=30).rev().collect::<Vec<_>>(), "the newest page only");
        assert!(!cursor.has_more());

        timeline.push(31..=55);
        let mut taken = Vec::new();
        let mut polls = 0;
        loop {
            let (page, seen) = timeline.read(cursor.fetch());
            taken.extend(page);
            cursor = cursor.advance(seen);
            polls += 1;
            if polls == 2 {
                // Arrivals mid-walk land above the top.
                timeline.push(56..=58);
            }
            if !cursor.has_more() && polls > 3 {
                break;
            }
            assert!(polls < 10);
        }
        taken.sort_unstable();
        assert_eq!(taken, (31..=58).collect::<Vec<_>>(), "each once, none lost");
        assert_eq!(cursor.since.as_deref(), Some("58"));

        let (empty, seen) = timeline.read(cursor.fetch());
        assert!(empty.is_empty());
        assert_eq!(cursor.advance(seen), cursor, "nothing new keeps the place");
    }

    #[test]
    fn an_empty_timeline_has_no_place_yet() {
        let cursor = Cursor::default().advance(Seen::default());
        assert!(cursor.is_fresh());
        let later = Cursor {
            since: Some("9".into()),
            walk: None,
        };
        let back = later.advance(Seen {
            newest_id: Some("8".into()),
            next_token: None,
        });
        assert_eq!(back.since.as_deref(), Some("9"), "never back");
    }

    #[test]
    fn ids_compare_as_numbers() {
        assert_eq!(cmp_ids("9", "10"), Ordering::Less);
        assert_eq!(cmp_ids("1460323737035677698", "999999999999999999"), Ordering::Greater);
        assert_eq!(cmp_ids("007", "7"), Ordering::Equal);
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), State::default());
        assert_eq!(State::default().encode(), "{}");
        let state = State {
            mentions: Cursor {
                since: Some("1".into()),
                walk: Some(Walk {
                    token: "7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i".into(),
                    top: "5".into(),
                }),
            },
            search: Some(SearchCursor {
                query: "(acme) -is:retweet".into(),
                cursor: Cursor {
                    since: Some("3".into()),
                    walk: None,
                },
            }),
        };
        let encoded = state.encode();
        assert_eq!(
            encoded,
            r#"{"mentions":{"since":"1","walk":{"token":"7140dibdnow9c7btw3w29grvxfcgvpb9n9coehpk7xz5i","top":"5"}},"search":{"for":"(acme) -is:retweet","cursor":{"since":"3"}}}"#
        );
        assert_eq!(State::parse(&encoded).unwrap(), state);
        for bad in [
            "garbage",
            "[]",
            r#"{"newest":"1"}"#,
            r#"{"mentions":{"walk":{"token":"t"}}}"#,
        ] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }
}
