//! Where reading a list of comment threads stands.
//!
//! `commentThreads.list` with `order=time` lists threads newest first (by
//! their top-level comment's `publishedAt`) and pages with `pageToken`; it
//! has no "since" parameter, and its page tokens expire. So the cursor keeps
//! the newest thread taken (`since`, a time and the ids at that very time)
//! and each cycle reads from the newest page down until it meets `since`.
//! A cycle that needs more than one page keeps a walk: the next page's token,
//! the top of the first page (the next `since`) and the lowest thread taken
//! (`low`). A token refused as invalid restarts the walk from the newest
//! page: threads above `low` were taken already and threads above `top`
//! wait for the next cycle, so each thread comes once.

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

/// A thread's place in the newest-first order: its top-level comment's time
/// (Unix ms) and its id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key<'a> {
    pub at: i64,
    pub id: &'a str,
}

/// A place in the order: a time, and the ids of the threads at exactly that
/// time that it holds (`publishedAt` has whole seconds; two can tie).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub at: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ids: Vec<String>,
}

impl Mark {
    /// `key` is at or below this mark: older, or at its time and listed.
    fn holds(&self, key: Key) -> bool {
        key.at < self.at || (key.at == self.at && self.ids.iter().any(|i| i == key.id))
    }

    /// `key` is strictly below this mark: older, or at its time and not listed.
    fn above(&self, key: Key) -> bool {
        key.at < self.at || (key.at == self.at && !self.ids.iter().any(|i| i == key.id))
    }

    /// The newest of `self` and `keys`, with every id at that time.
    fn raised(base: Option<&Mark>, keys: &[Key]) -> Option<Mark> {
        Self::extreme(base, keys, |a, b| a > b)
    }

    /// The oldest of `self` and `keys`, with every id at that time.
    fn lowered(base: Option<&Mark>, keys: &[Key]) -> Option<Mark> {
        Self::extreme(base, keys, |a, b| a < b)
    }

    fn extreme(base: Option<&Mark>, keys: &[Key], beyond: impl Fn(i64, i64) -> bool) -> Option<Mark> {
        let mut mark = base.cloned();
        for key in keys {
            match &mut mark {
                Some(m) if m.at == key.at => {
                    if !m.ids.iter().any(|i| i == key.id) {
                        m.ids.push(key.id.to_string());
                    }
                }
                Some(m) if !beyond(key.at, m.at) => {}
                _ => {
                    mark = Some(Mark {
                        at: key.at,
                        ids: vec![key.id.to_string()],
                    })
                }
            }
        }
        mark
    }
}

/// One list's place.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    /// The newest thread taken: later cycles stop at it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk: Option<Walk>,
    /// The newest reply taken (Unix ms): replies to older threads on the
    /// pages read are new above it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Walk {
    /// The next page's token; `None`: start again from the newest page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The newest thread of the cycle's first page: `since` when the walk ends.
    pub top: Mark,
    /// The oldest thread taken so far.
    pub low: Mark,
}

/// What a page of threads is, for the cursor.
pub struct Seen<'a> {
    /// The threads in the order listed, newest first.
    pub keys: Vec<Key<'a>>,
    pub next_token: Option<String>,
}

impl Cursor {
    /// The `pageToken` of the next request.
    pub fn token(&self) -> Option<&str> {
        self.walk.as_ref().and_then(|w| w.token.as_deref())
    }

    /// The walk again from the newest page, after its token was refused.
    pub fn restarted(&self) -> Cursor {
        let mut cursor = self.clone();
        if let Some(walk) = &mut cursor.walk {
            walk.token = None;
        }
        cursor
    }

    /// Whether the thread at `key` is new: taken from the page read.
    pub fn takes(&self, key: Key) -> bool {
        let Some(since) = &self.since else {
            // The first read takes the newest page: the account's history is not news.
            return true;
        };
        if since.holds(key) {
            return false;
        }
        match &self.walk {
            None => true,
            // Above the top: arrived during the walk, the next cycle's.
            Some(walk) => key.at <= walk.top.at && walk.low.above(key),
        }
    }

    /// Whether a reply at `at` on a thread not taken (an older thread) is new:
    /// newer than every reply taken before (every thread, when none was).
    pub fn takes_reply(&self, at: i64) -> bool {
        self.since
            .as_ref()
            .is_some_and(|since| at > self.replies.unwrap_or(since.at))
    }

    /// Where the list stands after the page `seen`, the newest reply taken being `reply`.
    pub fn advance(&self, seen: &Seen, reply: Option<i64>) -> Cursor {
        let replies = match (self.replies, reply) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let Some(since) = &self.since else {
            return Cursor {
                since: Mark::raised(None, &seen.keys),
                walk: None,
                replies,
            };
        };
        let taken: Vec<Key> = seen.keys.iter().copied().filter(|k| self.takes(*k)).collect();
        let reached = seen.keys.iter().any(|k| since.holds(*k));
        // The top gathers every id taken at its time, however pages split a tie.
        let (top, low) = match &self.walk {
            Some(walk) => (
                Mark::raised(Some(&walk.top), &taken),
                Mark::lowered(Some(&walk.low), &taken),
            ),
            None => (Mark::raised(Some(since), &taken), Mark::lowered(None, &taken)),
        };
        let top = top.unwrap_or_else(|| since.clone());
        match (&seen.next_token, low) {
            (Some(token), Some(low)) if !reached => Cursor {
                since: Some(since.clone()),
                walk: Some(Walk {
                    token: Some(token.clone()),
                    top,
                    low,
                }),
                replies,
            },
            _ => Cursor {
                since: Some(top),
                walk: None,
                replies,
            },
        }
    }

    /// More pages wait now.
    pub fn has_more(&self) -> bool {
        self.walk.is_some()
    }
}

/// The poll state: where the brand's threads and the keyword listening stand.
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    #[serde(default, skip_serializing_if = "is_fresh")]
    pub channel: Cursor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search: Option<Listening>,
}

fn is_fresh(cursor: &Cursor) -> bool {
    *cursor == Cursor::default()
}

/// Keyword listening: the videos a search found and where each stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listening {
    /// The query the videos were found with: other keywords start afresh.
    #[serde(rename = "for")]
    pub query: String,
    /// When the last search ran (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub searched: Option<i64>,
    #[serde(default)]
    pub videos: Vec<Video>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Video {
    pub id: String,
    /// The video's `publishedAt` (Unix ms): the newest videos are kept.
    pub published: i64,
    /// Its comments are read before the next search.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub due: bool,
    #[serde(default)]
    pub cursor: Cursor,
}

impl State {
    pub fn parse(text: &str) -> Result<State, PluginError> {
        if text.trim().is_empty() {
            return Ok(State::default());
        }
        let object = text.trim_start().starts_with('{');
        serde_json::from_str::<State>(text)
            .ok()
            .filter(|_| object)
            .ok_or_else(|| {
                let shown: String = text.chars().take(100).collect();
                PluginError::Permanent(format!(
                    "unreadable poll state `{shown}`: expected {{\"channel\":{{\"since\":{{\"at\":<ms>}}}}}}"
                ))
            })
    }

    pub fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Listed = (Vec<(i64, String)>, Option<String>);

    /// Threads as YouTube lists them: (time, id) newest first, pages of
    /// `page`; a token is the index to go on from, valid while `epoch` holds.
    struct Threads {
        all: Vec<(i64, String)>,
        page: usize,
        epoch: u32,
    }

    impl Threads {
        fn push(&mut self, at: i64, id: &str) {
            self.all.push((at, id.to_string()));
            self.all.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        }

        /// The page at `token` and the next token, or `None` for a token of another epoch.
        fn read(&self, token: Option<&str>) -> Option<Listed> {
            let from = match token {
                None => 0,
                Some(t) => {
                    let (epoch, index) = t.split_once(':').unwrap();
                    if epoch.parse::<u32>().unwrap() != self.epoch {
                        return None;
                    }
                    index.parse().unwrap()
                }
            };
            let page: Vec<_> = self.all.iter().skip(from).take(self.page).cloned().collect();
            let next = (from + self.page < self.all.len()).then(|| format!("{}:{}", self.epoch, from + self.page));
            Some((page, next))
        }

        /// One poll: the ids taken and the new cursor.
        fn poll(&self, cursor: &Cursor) -> (Vec<String>, Cursor) {
            let (cursor, (page, next)) = match self.read(cursor.token()) {
                Some(read) => (cursor.clone(), read),
                None => {
                    let restarted = cursor.restarted();
                    let read = self.read(None).unwrap();
                    (restarted, read)
                }
            };
            let keys: Vec<Key> = page.iter().map(|(at, id)| Key { at: *at, id }).collect();
            let taken = keys
                .iter()
                .filter(|k| cursor.takes(**k))
                .map(|k| k.id.to_string())
                .collect();
            let seen = Seen { keys, next_token: next };
            (taken, cursor.advance(&seen, None))
        }
    }

    fn threads(times: impl Iterator<Item = i64>, page: usize) -> Threads {
        let mut t = Threads {
            all: Vec::new(),
            page,
            epoch: 0,
        };
        for at in times {
            t.push(at, &format!("t{at}"));
        }
        t
    }

    /// Polls until the walk ends; every id taken.
    fn drain(threads: &mut Threads, cursor: &mut Cursor, during: impl Fn(usize, &mut Threads)) -> Vec<String> {
        let mut taken = Vec::new();
        for poll in 0..50 {
            let (ids, next) = threads.poll(cursor);
            taken.extend(ids);
            *cursor = next;
            during(poll, threads);
            if !cursor.has_more() {
                return taken;
            }
        }
        panic!("the walk does not end");
    }

    #[test]
    fn the_first_read_takes_the_newest_page_then_walks_down_to_since() {
        let mut t = threads((1..=30).map(|i| i * 1000), 10);
        let mut cursor = Cursor::default();
        let first = drain(&mut t, &mut cursor, |_, _| {});
        assert_eq!(first.len(), 10, "the newest page only");
        assert_eq!(cursor.since.as_ref().map(|m| m.at), Some(30_000));

        for i in 31..=55 {
            t.push(i * 1000, &format!("t{}", i * 1000));
        }
        let mut taken = drain(&mut t, &mut cursor, |poll, t| {
            if poll == 1 {
                // Arrivals mid-walk sit above the top: the next cycle's.
                for i in 56..=58 {
                    t.push(i * 1000, &format!("t{}", i * 1000));
                }
            }
        });
        taken.extend(drain(&mut t, &mut cursor, |_, _| {}));
        taken.sort();
        let mut expected: Vec<String> = (31..=58).map(|i| format!("t{}", i * 1000)).collect();
        expected.sort();
        assert_eq!(taken, expected, "each once, none lost");
        let (none, same) = t.poll(&cursor);
        assert!(none.is_empty());
        assert_eq!(same, cursor, "nothing new keeps the place");
    }

    #[test]
    fn an_expired_page_token_restarts_from_the_newest_without_loss_or_repeats() {
        let mut t = threads((1..=10).map(|i| i * 1000), 10);
        let mut cursor = Cursor::default();
        drain(&mut t, &mut cursor, |_, _| {});
        for i in 11..=45 {
            t.push(i * 1000, &format!("t{}", i * 1000));
        }
        let mut taken = drain(&mut t, &mut cursor, |poll, t| {
            if poll == 1 {
                // The tokens handed out so far expire, and more arrive.
                t.epoch += 1;
                for i in 46..=48 {
                    t.push(i * 1000, &format!("t{}", i * 1000));
                }
            }
        });
        taken.extend(drain(&mut t, &mut cursor, |_, _| {}));
        let count = taken.len();
        taken.sort();
        taken.dedup();
        assert_eq!(count, taken.len(), "no thread twice: {taken:?}");
        assert_eq!(taken.len(), 38, "t11000..=t48000: {taken:?}");
    }

    #[test]
    fn threads_of_the_same_second_are_told_apart() {
        let mut t = Threads {
            all: Vec::new(),
            page: 2,
            epoch: 0,
        };
        t.push(5000, "a");
        let mut cursor = Cursor::default();
        assert_eq!(t.poll(&cursor).0, ["a"]);
        cursor = t.poll(&cursor).1;
        // Same second as `a`, and a walk whose page boundary splits a tie.
        t.push(5000, "b");
        t.push(6000, "c");
        t.push(6000, "d");
        t.push(6000, "e");
        let mut taken = drain(&mut t, &mut cursor, |_, _| {});
        taken.sort();
        assert_eq!(taken, ["b", "c", "d", "e"]);
        assert_eq!(
            cursor.since,
            Some(Mark {
                at: 6000,
                ids: vec!["e".into(), "d".into(), "c".into()]
            })
        );
    }

    #[test]
    fn replies_to_older_threads_are_new_above_the_newest_reply_taken() {
        let cursor = Cursor {
            since: Some(Mark { at: 10, ids: vec![] }),
            walk: None,
            replies: Some(20),
        };
        assert!(cursor.takes_reply(21));
        assert!(!cursor.takes_reply(20));
        let none_yet = Cursor {
            replies: None,
            ..cursor.clone()
        };
        assert!(
            none_yet.takes_reply(11) && !none_yet.takes_reply(10),
            "newer than the newest thread"
        );
        assert!(!Cursor::default().takes_reply(99), "the first read takes whole threads");
        let seen = Seen {
            keys: vec![],
            next_token: None,
        };
        assert_eq!(cursor.advance(&seen, Some(30)).replies, Some(30));
        assert_eq!(cursor.advance(&seen, None).replies, Some(20));
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), State::default());
        assert_eq!(State::default().encode(), "{}");
        let state = State {
            channel: Cursor {
                since: Some(Mark {
                    at: 1,
                    ids: vec!["Ugx".into()],
                }),
                walk: Some(Walk {
                    token: Some("QURTSl9p".into()),
                    top: Mark { at: 9, ids: vec![] },
                    low: Mark { at: 5, ids: vec![] },
                }),
                replies: Some(7),
            },
            search: Some(Listening {
                query: "acme".into(),
                searched: Some(3),
                videos: vec![Video {
                    id: "Ks-_Mh1QhMc".into(),
                    published: 2,
                    due: true,
                    cursor: Cursor::default(),
                }],
            }),
        };
        let encoded = state.encode();
        assert_eq!(
            encoded,
            r#"{"channel":{"since":{"at":1,"ids":["Ugx"]},"walk":{"token":"QURTSl9p","top":{"at":9},"low":{"at":5}},"replies":7},"search":{"for":"acme","searched":3,"videos":[{"id":"Ks-_Mh1QhMc","published":2,"due":true,"cursor":{}}]}}"#
        );
        assert_eq!(State::parse(&encoded).unwrap(), state);
        for bad in [
            "garbage",
            "[]",
            r#"{"mentions":{}}"#,
            r#"{"channel":{"since":{"at":"x"}}}"#,
        ] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }
}
