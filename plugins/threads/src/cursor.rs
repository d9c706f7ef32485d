//! Where polling stands in each of Threads' newest-first lists, and the poll
//! state that holds them.
//!
//! Threads lists mentions, a profile's threads, search results and a
//! conversation newest first, continued with `paging.cursors.after` while
//! `paging.next` is there. A [`Cursor`] keeps the newest post taken (its
//! second, and the ids taken in that second: Threads times have no finer
//! grain). A read takes what is newer; when a page is all new and another
//! follows, the cursor walks down with `after` under the same mark and keeps
//! the top of its first page, which becomes the mark once the walk reaches
//! known ground. Posts that arrive meanwhile sit above the top and come with
//! the next read: each post once, whatever the timing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

/// The newest second taken, and the ids taken in it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    /// Unix seconds.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl Mark {
    /// The newest second of `items` (id, Unix seconds) and the ids in it.
    fn of<'a>(items: impl Iterator<Item = (&'a str, i64)> + Clone) -> Option<Mark> {
        let at = items.clone().map(|(_, at)| at).max()?;
        let ids = items.filter(|(_, t)| *t == at).map(|(id, _)| id.to_string()).collect();
        Some(Mark { at, ids })
    }

    /// The later of two marks; the ids of both when they name one second.
    fn merge(self, other: Mark) -> Mark {
        match self.at.cmp(&other.at) {
            std::cmp::Ordering::Greater => self,
            std::cmp::Ordering::Less => other,
            std::cmp::Ordering::Equal => {
                let mut ids = self.ids;
                for id in other.ids {
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
                Mark { at: self.at, ids }
            }
        }
    }

    fn is_newer(&self, id: &str, at: i64) -> bool {
        at > self.at || (at == self.at && !self.ids.iter().any(|i| i == id))
    }
}

/// A walk down toward the mark, still under way.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walk {
    /// `paging.cursors.after` of the last page read.
    pub after: String,
    /// The newest post of the walk's first page: the mark once it is done.
    pub top: Mark,
}

/// One list's place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk: Option<Walk>,
}

/// What a read of one page gave.
#[derive(Debug, PartialEq, Eq)]
pub struct Read {
    /// Indexes of the page's posts that are new.
    pub take: Vec<usize>,
    pub next: Cursor,
}

impl Cursor {
    /// Everything is news: a list that began after the account was set up
    /// (the replies to a thread the brand posted since).
    pub fn from_start() -> Cursor {
        Cursor {
            mark: Some(Mark::default()),
            walk: None,
        }
    }

    pub fn is_fresh(&self) -> bool {
        self.mark.is_none() && self.walk.is_none()
    }

    /// The `after` cursor of the next request.
    pub fn after(&self) -> Option<&str> {
        self.walk.as_ref().map(|w| w.after.as_str())
    }

    /// The `since` of the next request (Unix seconds): a second before the
    /// mark, so a bound Threads reads as exclusive still keeps the mark's
    /// second (its posts taken already are told apart by id). `None` before
    /// Threads' earliest allowed value.
    pub fn since(&self) -> Option<i64> {
        const EARLIEST: i64 = 1_688_540_400;
        self.mark.as_ref().map(|m| m.at - 1).filter(|s| *s >= EARLIEST)
    }

    /// Where the list stands after the page the cursor asked for: `page` is
    /// its posts (id, Unix seconds) in order, `after` the cursor of the page
    /// that follows, if one does.
    pub fn advance(&self, page: &[(&str, i64)], after: Option<String>) -> Read {
        let Some(mark) = &self.mark else {
            // The first read takes the newest page only: the account's history is not news.
            let next = Cursor {
                mark: Mark::of(page.iter().copied()),
                walk: None,
            };
            return Read {
                take: (0..page.len()).collect(),
                next,
            };
        };
        let take: Vec<usize> = (0..page.len())
            .filter(|&i| mark.is_newer(page[i].0, page[i].1))
            .collect();
        // A post already taken (or older) means the list reached known ground.
        let reached = take.len() < page.len();
        let top = match &self.walk {
            Some(walk) => walk.top.clone(),
            None => Mark::of(take.iter().map(|&i| page[i])).unwrap_or_else(|| mark.clone()),
        };
        let next = match after.filter(|_| !reached && !take.is_empty()) {
            Some(after) => Cursor {
                mark: Some(mark.clone()),
                walk: Some(Walk { after, top }),
            },
            None => Cursor {
                mark: Some(mark.clone().merge(top)),
                walk: None,
            },
        };
        Read { take, next }
    }

    /// More pages are waiting now.
    pub fn has_more(&self) -> bool {
        self.walk.is_some()
    }
}

/// A thread of the brand's whose replies are read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Root {
    /// When it was posted (Unix seconds): threads older than the window are let go.
    pub at: i64,
    #[serde(default, skip_serializing_if = "Cursor::is_fresh")]
    pub replies: Cursor,
}

/// A keyword's search cursor: other keywords start afresh.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Search {
    pub q: String,
    #[serde(default, skip_serializing_if = "Cursor::is_fresh")]
    pub cursor: Cursor,
}

/// The poll state.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    /// The brand's username, learned on the first poll: its posts are outbound.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub me: Option<String>,
    #[serde(default, skip_serializing_if = "Cursor::is_fresh")]
    pub mentions: Cursor,
    /// The brand's own threads: new ones become roots.
    #[serde(default, skip_serializing_if = "Cursor::is_fresh")]
    pub threads: Cursor,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roots: BTreeMap<String, Root>,
    /// The root whose conversation is read first next time (they take turns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub turn: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub search: Vec<Search>,
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
                    "unreadable poll state `{shown}`: expected {{\"mentions\":{{\"mark\":{{\"at\":<unix seconds>}}}}}}"
                ))
            })
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The cursor of keyword `q`, fresh when it is new.
    pub fn search_cursor(&self, q: &str) -> Cursor {
        self.search
            .iter()
            .find(|s| s.q == q)
            .map(|s| s.cursor.clone())
            .unwrap_or_default()
    }

    /// Roots in reading order: those walking first, then by turn from `turn`
    /// (newest first), so each gets read in its turn.
    pub fn root_order(&self) -> Vec<String> {
        let mut ids: Vec<(&String, &Root)> = self.roots.iter().collect();
        ids.sort_by(|a, b| b.1.at.cmp(&a.1.at).then_with(|| a.0.cmp(b.0)));
        let start = self
            .turn
            .as_ref()
            .and_then(|t| ids.iter().position(|(id, _)| *id == t))
            .unwrap_or(0);
        ids.rotate_left(start);
        let (walking, waiting): (Vec<_>, Vec<_>) = ids.into_iter().partition(|(_, r)| r.replies.has_more());
        walking.into_iter().chain(waiting).map(|(id, _)| id.clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list as Threads pages it: (id, second) newest first; `after` names
    /// the last post of a page, so posts arriving on top do not shift it.
    struct List {
        posts: Vec<(String, i64)>,
        page: usize,
    }

    impl List {
        fn read(&self, cursor: &Cursor) -> (Vec<(String, i64)>, Option<String>) {
            let since = cursor.since().unwrap_or(i64::MIN);
            let all: Vec<(String, i64)> = self.posts.iter().filter(|p| p.1 >= since).cloned().collect();
            let from = cursor
                .after()
                .map_or(0, |a| all.iter().position(|p| p.0 == a).unwrap() + 1);
            let page: Vec<(String, i64)> = all.iter().skip(from).take(self.page).cloned().collect();
            let after = (all.len() > from + page.len()).then(|| page.last().unwrap().0.clone());
            (page, after)
        }

        /// New posts on top, `n` per second from `at`.
        fn push(&mut self, ids: std::ops::RangeInclusive<u32>, at: i64, per_second: u32) {
            for (k, id) in ids.enumerate() {
                let second = at + i64::from(k as u32 / per_second);
                self.posts.insert(0, (format!("p{id}"), second));
            }
        }
    }

    fn poll(list: &List, cursor: &Cursor) -> (Vec<String>, Cursor) {
        let (page, after) = list.read(cursor);
        let refs: Vec<(&str, i64)> = page.iter().map(|(id, at)| (id.as_str(), *at)).collect();
        let read = cursor.advance(&refs, after);
        (read.take.iter().map(|&i| page[i].0.clone()).collect(), read.next)
    }

    const T0: i64 = 1_760_000_000;

    #[test]
    fn walks_down_page_by_page_and_takes_arrivals_once() {
        let mut list = List {
            posts: Vec::new(),
            page: 10,
        };
        // Several posts share a second: the mark tells them apart by id.
        list.push(1..=30, T0, 3);
        let (first, mut cursor) = poll(&list, &Cursor::default());
        assert_eq!(first.len(), 10, "the newest page only");
        assert!(!cursor.has_more());

        list.push(31..=55, T0 + 100, 2);
        let mut taken = Vec::new();
        for polls in 1.. {
            let (page, next) = poll(&list, &cursor);
            taken.extend(page);
            cursor = next;
            if polls == 2 {
                // Arrivals mid-walk land above the top, one in the top's own second.
                list.push(56..=58, T0 + 112, 2);
            }
            if !cursor.has_more() && polls > 3 {
                break;
            }
            assert!(polls < 12);
        }
        let mut ids: Vec<u32> = taken.iter().map(|p| p[1..].parse().unwrap()).collect();
        ids.sort_unstable();
        assert_eq!(ids, (31..=58).collect::<Vec<_>>(), "each once, none lost");

        let (empty, next) = poll(&list, &cursor);
        assert!(empty.is_empty());
        assert_eq!(next, cursor, "nothing new keeps the place");
    }

    #[test]
    fn a_list_from_the_start_takes_everything_and_an_empty_one_no_place() {
        let list = List {
            posts: (1..=25).rev().map(|i| (format!("r{i}"), T0 + i)).collect(),
            page: 10,
        };
        let mut cursor = Cursor::from_start();
        let mut taken = 0;
        loop {
            let (page, next) = poll(&list, &cursor);
            taken += page.len();
            cursor = next;
            if !cursor.has_more() {
                break;
            }
        }
        assert_eq!(taken, 25);
        assert_eq!(cursor.mark.as_ref().map(|m| m.at), Some(T0 + 25));
        assert!(Cursor::default().advance(&[], None).next.is_fresh());
    }

    #[test]
    fn never_goes_back() {
        let cursor = Cursor {
            mark: Some(Mark {
                at: T0,
                ids: vec!["a".into()],
            }),
            walk: None,
        };
        let read = cursor.advance(&[("a", T0), ("b", T0 - 5)], Some("next".into()));
        assert!(read.take.is_empty());
        assert_eq!(read.next, cursor, "known ground ends the read, the mark stays");
    }

    #[test]
    fn roots_take_turns_after_those_walking() {
        let root = |at, walking: bool| Root {
            at,
            replies: Cursor {
                mark: Some(Mark::default()),
                walk: walking.then(|| Walk {
                    after: "c".into(),
                    top: Mark::default(),
                }),
            },
        };
        let mut state = State::default();
        state.roots.insert("a".into(), root(3, false));
        state.roots.insert("b".into(), root(2, false));
        state.roots.insert("c".into(), root(1, true));
        assert_eq!(state.root_order(), ["c", "a", "b"]);
        state.turn = Some("b".into());
        assert_eq!(state.root_order(), ["c", "b", "a"]);
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), State::default());
        assert_eq!(State::default().encode(), "{}");
        let mut state = State {
            me: Some("acme".into()),
            mentions: Cursor {
                mark: Some(Mark {
                    at: T0,
                    ids: vec!["1".into()],
                }),
                walk: Some(Walk {
                    after: "QVFIU".into(),
                    top: Mark {
                        at: T0 + 9,
                        ids: vec![],
                    },
                }),
            },
            search: vec![Search {
                q: "acme".into(),
                cursor: Cursor::default(),
            }],
            ..State::default()
        };
        state.roots.insert(
            "17".into(),
            Root {
                at: T0,
                replies: Cursor::from_start(),
            },
        );
        let encoded = state.encode();
        assert_eq!(
            encoded,
            r#"{"me":"acme","mentions":{"mark":{"at":1760000000,"ids":["1"]},"walk":{"after":"QVFIU","top":{"at":1760000009}}},"roots":{"17":{"at":1760000000,"replies":{"mark":{"at":0}}}},"search":[{"q":"acme"}]}"#
        );
        assert_eq!(State::parse(&encoded).unwrap(), state);
        for bad in [
            "garbage",
            "[]",
            r#"{"newest":"1"}"#,
            r#"{"mentions":{"walk":{"after":"x"}}}"#,
        ] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }
}
