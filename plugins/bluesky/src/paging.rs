//! Walking lists that come newest first with a cursor toward older items
//! (notifications, search hits, the account's records) so that every item is
//! handed over exactly once across pages, polls and restarts.
//!
//! A *sweep* starts at the newest page and follows the cursor down until it
//! meets an item seen before (the *mark*). Its state between pages holds the
//! cursor, the top of its first page (the next mark) and the bottom of the page
//! just read (the *floor*): only items strictly between mark and floor are
//! new. The floor also drops items a page repeats, which offset-based cursors
//! (search) do when posts arrive during a sweep. Items arriving during a sweep
//! are above its top and are found by the next one.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use socialcrm_sdk::PluginError;

use socialcrm_sdk::time;

/// The poll state: one [`Source`] per list, by name (`notifications`, `own`, `search:<query>`).
#[derive(Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct State {
    pub sources: BTreeMap<String, Source>,
}

impl State {
    /// The empty state on the first poll.
    pub fn parse(text: &str) -> Result<State, PluginError> {
        if text.trim().is_empty() {
            return Ok(State::default());
        }
        serde_json::from_str(text).map_err(|e| {
            let shown: String = text.chars().take(100).collect();
            PluginError::Permanent(format!(
                "unreadable poll state `{shown}`: {e}; expected {{\"sources\":{{...}}}}"
            ))
        })
    }

    pub fn encode(&self) -> String {
        // Plain maps and strings: serializing cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether some source is in the middle of a sweep.
    pub fn sweeping(&self) -> bool {
        self.sources.values().any(|s| s.sweep.is_some())
    }
}

/// Where one list stands.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The newest item handed over by a finished sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark: Option<Mark>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<Sweep>,
}

/// A position in a list: a sort key and the ids listed at exactly that key
/// (several items can share a timestamp). The empty key is before every item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mark {
    pub key: String,
    pub ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    pub cursor: String,
    pub top: Mark,
    pub floor: Mark,
}

/// One listed item: its sort key (a timestamp or a record key), its id, and what it carries.
#[derive(Debug)]
pub struct Item<T> {
    pub key: String,
    pub id: String,
    pub value: T,
}

/// What a page brought: the new items oldest first, where the list now
/// stands, and whether its sweep goes on.
#[derive(Debug)]
pub struct Step<T> {
    pub fresh: Vec<T>,
    pub source: Source,
    pub more: bool,
}

impl Source {
    /// The cursor of the page to read: the sweep's, or none for the newest page.
    pub fn cursor(&self) -> Option<&str> {
        self.sweep.as_ref().map(|s| s.cursor.as_str())
    }

    /// Takes one page, listed newest first, and the cursor the server gave for the next one.
    pub fn advance<T>(&self, items: Vec<Item<T>>, next: Option<String>) -> Step<T> {
        let Some(mark) = &self.mark else {
            // The first poll takes the newest page only: the history is not news.
            // An empty list leaves the empty mark: everything after it is news.
            let mark = edge(&items, Ordering::Greater).unwrap_or_else(|| Mark {
                key: String::new(),
                ids: Vec::new(),
            });
            return Step {
                source: Source {
                    mark: Some(mark),
                    sweep: None,
                },
                fresh: items.into_iter().rev().map(|i| i.value).collect(),
                more: false,
            };
        };
        let floor = self.sweep.as_ref().map(|s| &s.floor);
        let below_floor = |i: &Item<T>| floor.is_none_or(|f| before(i, f));
        let reached_mark = items.iter().any(|i| !after(i, mark));
        let progressed = items.iter().any(below_floor);
        let top = self
            .sweep
            .as_ref()
            .map(|s| s.top.clone())
            .or_else(|| edge(&items, Ordering::Greater));
        let bottom = edge(&items, Ordering::Less);
        let source = match (next, bottom) {
            (Some(cursor), Some(floor)) if !reached_mark && progressed => Source {
                mark: Some(mark.clone()),
                sweep: top.map(|top| Sweep { cursor, top, floor }),
            },
            _ => Source {
                mark: Some(top.map_or_else(|| mark.clone(), |top| newest(mark, top))),
                sweep: None,
            },
        };
        let more = source.sweep.is_some();
        let fresh = items
            .into_iter()
            .filter(|i| after(i, mark) && below_floor(i))
            .rev()
            .map(|i| i.value)
            .collect();
        Step { fresh, source, more }
    }
}

/// Orders keys: as times when both are RFC 3339, else as text (record keys
/// are TIDs, which sort as text).
pub fn cmp_keys(a: &str, b: &str) -> Ordering {
    match (time::parse_rfc3339(a), time::parse_rfc3339(b)) {
        (Some(a), Some(b)) => a.cmp(&b),
        _ => a.cmp(b),
    }
}

/// Whether `item` is newer than `mark`.
fn after<T>(item: &Item<T>, mark: &Mark) -> bool {
    match cmp_keys(&item.key, &mark.key) {
        Ordering::Greater => true,
        Ordering::Equal => !mark.ids.contains(&item.id),
        Ordering::Less => false,
    }
}

/// Whether `item` is older than `floor`.
fn before<T>(item: &Item<T>, floor: &Mark) -> bool {
    match cmp_keys(&item.key, &floor.key) {
        Ordering::Less => true,
        Ordering::Equal => !floor.ids.contains(&item.id),
        Ordering::Greater => false,
    }
}

/// The newest (`Greater`) or oldest (`Less`) key of a page with its ids.
fn edge<T>(items: &[Item<T>], side: Ordering) -> Option<Mark> {
    let key = items
        .iter()
        .map(|i| i.key.as_str())
        .reduce(|a, b| if cmp_keys(b, a) == side { b } else { a })?;
    let ids = items
        .iter()
        .filter(|i| cmp_keys(&i.key, key) == Ordering::Equal)
        .map(|i| i.id.clone())
        .collect();
    Some(Mark {
        key: key.to_string(),
        ids,
    })
}

/// The newer of two marks; their ids together when they share the key.
fn newest(old: &Mark, new: Mark) -> Mark {
    match cmp_keys(&new.key, &old.key) {
        Ordering::Greater => new,
        Ordering::Less => old.clone(),
        Ordering::Equal => {
            let mut ids = old.ids.clone();
            ids.extend(new.ids.into_iter().filter(|id| !old.ids.contains(id)));
            Mark {
                key: old.key.clone(),
                ids,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A list served newest first with keyset cursors ("the key of the last
    /// item"), like listNotifications; `offset` switches to offset cursors, like search.
    struct List {
        items: Vec<(u32, String)>,
        offset: bool,
    }

    impl List {
        fn push(&mut self, key: u32) {
            let id = format!("id{}", self.items.len());
            self.items.push((key, id));
        }

        fn page(&self, cursor: Option<&str>, limit: usize) -> (Vec<Item<String>>, Option<String>) {
            let mut sorted = self.items.clone();
            sorted.sort_by(|a, b| b.cmp(a));
            let start = match cursor {
                None => 0,
                Some(c) if self.offset => c.parse().unwrap(),
                Some(c) => {
                    let (key, id) = c.split_once('/').unwrap();
                    let after = (key.parse::<u32>().unwrap(), id.to_string());
                    sorted.iter().position(|i| *i < after).unwrap_or(sorted.len())
                }
            };
            let page: Vec<_> = sorted.iter().skip(start).take(limit).cloned().collect();
            let next = match page.last() {
                Some(_) if start + page.len() >= sorted.len() => None,
                Some((key, id)) if !self.offset => Some(format!("{key}/{id}")),
                Some(_) => Some((start + page.len()).to_string()),
                None => None,
            };
            let items = page
                .into_iter()
                .map(|(key, id)| Item {
                    key: format!("{key:010}"),
                    value: id.clone(),
                    id,
                })
                .collect();
            (items, next)
        }
    }

    /// Polls until the sweep ends, returning everything handed over.
    fn poll_all(list: &List, source: &mut Source, limit: usize) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let (items, next) = list.page(source.cursor(), limit);
            let step = source.advance(items, next);
            seen.extend(step.fresh);
            *source = step.source;
            if !step.more {
                return seen;
            }
        }
    }

    fn ids(range: std::ops::Range<usize>) -> Vec<String> {
        range.map(|i| format!("id{i}")).collect()
    }

    #[test]
    fn first_poll_takes_the_newest_page_only() {
        let mut list = List {
            items: Vec::new(),
            offset: false,
        };
        (0..10).for_each(|k| list.push(k));
        let mut source = Source::default();
        assert_eq!(poll_all(&list, &mut source, 4), ids(6..10));
        assert_eq!(
            source.mark,
            Some(Mark {
                key: "0000000009".into(),
                ids: vec!["id9".into()]
            })
        );
        assert_eq!(poll_all(&list, &mut source, 4), Vec::<String>::new(), "nothing new");
    }

    #[test]
    fn an_empty_list_then_items() {
        let mut list = List {
            items: Vec::new(),
            offset: false,
        };
        let mut source = Source::default();
        assert!(poll_all(&list, &mut source, 4).is_empty());
        assert_eq!(source.mark.as_ref().map(|m| m.key.as_str()), Some(""));
        (1..11).for_each(|k| list.push(k));
        let mut seen = poll_all(&list, &mut source, 4);
        // Each page oldest first; the pages of a sweep newest first.
        assert_eq!(seen[..4], ids(6..10));
        seen.sort_by_key(|id| id[2..].parse::<usize>().unwrap());
        assert_eq!(seen, ids(0..10), "all of it is news");
    }

    #[test]
    fn every_item_once_across_pages_and_arrivals() {
        for offset in [false, true] {
            let mut list = List {
                items: Vec::new(),
                offset,
            };
            (0..3).for_each(|k| list.push(k));
            let mut source = Source::default();
            assert_eq!(poll_all(&list, &mut source, 4), ids(0..3));
            (3..13).for_each(|k| list.push(k));
            // Page by page, with new items arriving between the pages of a sweep.
            let mut seen = Vec::new();
            let mut key = 13;
            loop {
                let (items, next) = list.page(source.cursor(), 4);
                let step = source.advance(items, next);
                seen.extend(step.fresh);
                source = step.source;
                if !step.more {
                    break;
                }
                list.push(key);
                key += 1;
            }
            let arrived = list.items.len();
            seen.extend(poll_all(&list, &mut source, 4));
            seen.sort_by_key(|id| id[2..].parse::<usize>().unwrap());
            assert_eq!(seen, ids(3..arrived), "offset cursors: {offset}");
            assert!(poll_all(&list, &mut source, 4).is_empty());
        }
    }

    #[test]
    fn items_sharing_a_key_are_told_apart() {
        let mut list = List {
            items: Vec::new(),
            offset: false,
        };
        list.push(5);
        let mut source = Source::default();
        assert_eq!(poll_all(&list, &mut source, 2), ids(0..1));
        list.push(5);
        list.push(5);
        list.push(6);
        let mut seen = poll_all(&list, &mut source, 2);
        seen.sort();
        assert_eq!(seen, ids(1..4));
    }

    #[test]
    fn a_server_repeating_its_page_ends_the_sweep() {
        let mut source = Source {
            mark: Some(Mark {
                key: "0001".into(),
                ids: vec!["a".into()],
            }),
            sweep: None,
        };
        let page = || {
            vec![
                Item {
                    key: "0003".into(),
                    id: "c".into(),
                    value: "c",
                },
                Item {
                    key: "0002".into(),
                    id: "b".into(),
                    value: "b",
                },
            ]
        };
        let step = source.advance(page(), Some("same".into()));
        assert_eq!(step.fresh, ["b", "c"]);
        assert!(step.more);
        source = step.source;
        let step = source.advance(page(), Some("same".into()));
        assert!(step.fresh.is_empty() && !step.more);
        assert_eq!(step.source.mark.map(|m| m.key).as_deref(), Some("0003"));
    }

    #[test]
    fn keys_compare_as_times_or_text() {
        assert_eq!(
            cmp_keys("2026-11-23T10:00:00.5Z", "2026-11-23T10:00:00.499Z"),
            Ordering::Greater
        );
        assert_eq!(
            cmp_keys("2026-11-23T11:00:00+01:00", "2026-11-23T10:00:00.000Z"),
            Ordering::Equal
        );
        assert_eq!(cmp_keys("3l3qo2vuowo2b", "3l3qo2vuawo2b"), Ordering::Greater);
    }

    #[test]
    fn state_round_trips_and_names_garbage() {
        assert_eq!(State::parse("").unwrap(), State::default());
        let mut state = State::default();
        state.sources.insert(
            "notifications".into(),
            Source {
                mark: Some(Mark {
                    key: "k".into(),
                    ids: vec!["at://x".into()],
                }),
                sweep: None,
            },
        );
        let encoded = state.encode();
        assert_eq!(
            encoded,
            r#"{"sources":{"notifications":{"mark":{"key":"k","ids":["at://x"]}}}}"#
        );
        assert_eq!(State::parse(&encoded).unwrap(), state);
        for bad in ["garbage", r#"{"newest":"1"}"#, "[]", r#"{"sources":{"x":{"mark":1}}}"#] {
            assert!(
                matches!(State::parse(bad), Err(PluginError::Permanent(m)) if m.contains("unreadable poll state")),
                "{bad}"
            );
        }
    }
}
