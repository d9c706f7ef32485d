//! Polling ahead of the commits: one blocking thread calls the plugin page
//! after page (and the analyzers on each page), handing pages over through a
//! short queue. When committing is the slower side, the pages that wait are
//! taken together and committed as one transaction.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::analyze::{PageAnalyses, analyze_page};
use crate::runtime::types::{Page, TaxonomyEntry};
use crate::runtime::{Account, AnalyzerPlugin, CallError, CallOutput, ChannelPlugin};

/// Pages polled ahead of the commits at most.
const AHEAD: usize = 16;

/// A polled page with each analyzer's analyses of its posts.
pub(super) type Polled = (CallOutput<Page>, Vec<PageAnalyses>);

/// What the poller polls.
pub(super) struct Polling {
    pub plugin: ChannelPlugin,
    pub analyzers: Vec<AnalyzerPlugin>,
    /// The brand's taxonomy, as the sync started.
    pub taxonomy: Arc<[TaxonomyEntry]>,
    pub account: Account,
    /// The committed state the first poll starts from.
    pub state: String,
    pub max_pages: usize,
    /// Set when the lease is lost: no poll starts after that.
    pub lease_lost: Arc<AtomicBool>,
}

pub(super) struct Poller {
    pages: mpsc::Receiver<Result<Polled, CallError>>,
    /// A page taken from the queue that did not fit the last batch.
    held: Option<Result<Polled, CallError>>,
    thread: JoinHandle<()>,
}

impl Poller {
    /// Starts polling; it ends after the last page (`has_more` false),
    /// `max_pages` pages, a failed call, or a lost lease.
    pub fn start(polling: Polling) -> Self {
        let (tx, pages) = mpsc::channel(AHEAD);
        let thread = tokio::task::spawn_blocking(move || {
            let Polling {
                plugin,
                analyzers,
                taxonomy,
                mut account,
                mut state,
                max_pages,
                lease_lost,
            } = polling;
            for _ in 0..max_pages {
                if lease_lost.load(Ordering::Acquire) {
                    return;
                }
                let polled = plugin.poll(&account, &state).map(|out| {
                    let analyses = analyze_page(&analyzers, &out.value.posts, &taxonomy);
                    (out, analyses)
                });
                let more = match &polled {
                    Ok((out, _)) => {
                        // The next page sees this page's writes, as after its commit.
                        account.apply_kv(out.kv_changes.clone());
                        state.clone_from(&out.value.state);
                        out.value.has_more
                    }
                    Err(_) => false,
                };
                // A closed queue: the sync stopped taking pages.
                if tx.blocking_send(polled).is_err() || !more {
                    return;
                }
            }
        });
        Poller {
            pages,
            held: None,
            thread,
        }
    }

    /// The next pages in poll order: the first (waited for) and those
    /// already polled behind it, up to `max_posts` posts. A failed poll comes
    /// alone, after the pages before it. `None` once polling has ended.
    pub async fn next(&mut self, max_posts: usize) -> Option<Result<Vec<Polled>, CallError>> {
        let first = match self.held.take() {
            Some(held) => held,
            None => self.pages.recv().await?,
        };
        let first = match first {
            Ok(page) => page,
            Err(e) => return Some(Err(e)),
        };
        let mut posts = first.0.value.posts.len();
        let mut batch = vec![first];
        while let Ok(next) = self.pages.try_recv() {
            match next {
                Ok(page) if posts + page.0.value.posts.len() <= max_posts => {
                    posts += page.0.value.posts.len();
                    batch.push(page);
                }
                other => {
                    self.held = Some(other);
                    break;
                }
            }
        }
        Some(Ok(batch))
    }

    /// Stops polling and waits for a call in flight to end: the lease must
    /// outlive every request made under it.
    pub async fn stop(self) {
        drop(self.pages);
        let _ = self.thread.await;
    }
}
