//! The channel checks: a self-description that matches the manifest, `check`
//! and `poll` against a network that answers empty pages, errors and garbage,
//! and the author's recorded pages polled in order with the state each
//! returned.

use std::collections::BTreeSet;

use http::HeaderMap;
use http::header::{HeaderValue, RETRY_AFTER};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::fixtures::RecordedPage;
use super::network::{Network, Script, response};
use super::{Check, Fixtures, failure};
use crate::plugins::Manifest;
use crate::runtime::http::HttpResponse;
use crate::runtime::types::{ChannelDescriptor, FieldKind, Page};
use crate::runtime::types::{PluginError, Post};
use crate::runtime::{Account, CallError, CallOutput, ChannelPlugin, FailReason};

pub const DESCRIBE: &str = "describe is valid";
pub const CHECK_EMPTY: &str = "check rejects an empty config";
pub const EMPTY_PAGE: &str = "poll handles an empty page";
pub const ROUND_TRIP: &str = "state round-trips over the recorded pages";
pub const OUTPUT: &str = "posts are well-formed and within limits";
pub const UNAUTHORIZED: &str = "HTTP 401 -> unauthorized";
pub const RATE_LIMITED: &str = "HTTP 429 with Retry-After -> rate-limited";
pub const TRANSIENT: &str = "HTTP 500 -> transient";
pub const MALFORMED: &str = "malformed body -> an error";

/// The Retry-After the 429 check sends, in seconds.
const RETRY_AFTER_SECS: u64 = 7;
/// Not JSON, not UTF-8 throughout: what a broken proxy might send.
const GARBAGE: &[u8] = b"<html><body>502 Bad Gateway</body></html>\xff\xfe{\"posts\": [";

const NO_PAGES: &str =
    "no recorded pages: add [[page]] entries to conformance/conformance.toml (docs/plugin-authors.md, \"Conformance\")";

pub(super) fn run(plugin: &ChannelPlugin, manifest: &Manifest, network: &Network, fixtures: &Fixtures) -> Vec<Check> {
    let run = Run {
        plugin,
        network,
        account: fixtures.account(manifest),
    };
    let described = plugin.describe().map(|out| out.value);
    let polls = described.as_ref().map_or(true, |d| d.capabilities.poll);
    let mut checks = vec![
        Check::new(
            DESCRIBE,
            described.map_err(|e| failure(&e)).and_then(|d| describe(&d, manifest)),
        ),
        Check::new(CHECK_EMPTY, run.check_empty()),
    ];
    if !polls {
        let why = "describe does not claim the `poll` capability";
        checks.extend(
            [
                EMPTY_PAGE,
                ROUND_TRIP,
                OUTPUT,
                UNAUTHORIZED,
                RATE_LIMITED,
                TRANSIENT,
                MALFORMED,
            ]
            .map(|name| Check::skip(name, why)),
        );
        return checks;
    }
    checks.push(Check::new(EMPTY_PAGE, run.empty_page(fixtures.empty_body.as_deref())));
    checks.extend(run.recorded(&fixtures.pages));
    let status = |code: u16| response(code, HeaderMap::new(), r#"{"error":"conformance"}"#);
    let mut rate_limited = status(429);
    rate_limited
        .headers
        .insert(RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
    checks.extend([
        Check::new(
            UNAUTHORIZED,
            run.maps_error(status(401), "unauthorized", |e| {
                matches!(e, PluginError::Unauthorized(_))
            }),
        ),
        Check::new(
            RATE_LIMITED,
            run.maps_error(
                rate_limited,
                &format!("rate-limited for at least {RETRY_AFTER_SECS} s (the Retry-After)"),
                |e| matches!(e, PluginError::RateLimited(r) if r.retry_after_ms >= RETRY_AFTER_SECS * 1000),
            ),
        ),
        Check::new(
            TRANSIENT,
            run.maps_error(status(500), "transient", |e| matches!(e, PluginError::Transient(_))),
        ),
        Check::new(
            MALFORMED,
            run.maps_error(response(200, HeaderMap::new(), GARBAGE), "an error", |_| true),
        ),
    ]);
    checks
}

/// The descriptor names the manifest's network and, when it lists config
/// fields (it need not: plugin.toml is their source), exactly the manifest's.
fn describe(d: &ChannelDescriptor, manifest: &Manifest) -> Result<Option<String>, String> {
    let mut problems = Vec::new();
    if d.network.trim().is_empty() {
        problems.push("the network is empty".to_string());
    } else if manifest.network.as_deref() != Some(d.network.as_str()) {
        problems.push(format!(
            "the network is `{}`, plugin.toml says `{}`",
            d.network,
            manifest.network.as_deref().unwrap_or_default()
        ));
    }
    let mut names = BTreeSet::new();
    for f in &d.config_fields {
        if f.name.trim().is_empty() {
            problems.push("a config field has no name".into());
            continue;
        }
        if !names.insert(f.name.as_str()) {
            problems.push(format!("config field `{}` is listed twice", f.name));
        }
        let Some(spec) = manifest.config.iter().find(|s| s.name == f.name) else {
            problems.push(format!("config field `{}` is not in plugin.toml", f.name));
            continue;
        };
        let mut differs = |what: &str, here: String, there: String| {
            if here != there {
                problems.push(format!(
                    "config field `{}`: {what} is {here} here, {there} in plugin.toml",
                    f.name
                ));
            }
        };
        differs("required", f.required.to_string(), spec.required.to_string());
        differs("secret", f.secret.to_string(), spec.secret.to_string());
        differs("type", kind_name(f.kind).into(), spec.kind.clone());
    }
    let listed = !d.config_fields.is_empty();
    for spec in manifest
        .config
        .iter()
        .filter(|s| listed && !names.contains(s.name.as_str()))
    {
        problems.push(format!(
            "plugin.toml declares config field `{}`, describe does not",
            spec.name
        ));
    }
    if problems.is_empty() {
        Ok(Some(format!("network `{}`", d.network)))
    } else {
        Err(problems.join("; "))
    }
}

/// The manifest's name of a field kind.
fn kind_name(kind: FieldKind) -> &'static str {
    match kind {
        FieldKind::Text => "text",
        FieldKind::Url => "url",
        FieldKind::Number => "number",
        FieldKind::Boolean => "boolean",
        FieldKind::List => "list",
    }
}

/// At most 120 characters of `text`, quoted, for a report line.
fn shown(text: &str) -> String {
    let mut short: String = text.chars().take(120).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("`{short}`")
}

struct Run<'a> {
    plugin: &'a ChannelPlugin,
    network: &'a Network,
    account: Account,
}

/// Why the walk over the recorded pages stopped.
enum Stop {
    /// The host refused the output (over a limit, or invalid).
    Output(String),
    Other(String),
}

impl Run<'_> {
    fn poll(&self, script: Script, state: &str) -> Result<CallOutput<Page>, CallError> {
        self.network.play(script);
        self.plugin.poll(&self.account, state)
    }

    fn check_empty(&self) -> Result<Option<String>, String> {
        self.network.play(Script::Every(response(200, HeaderMap::new(), "{}")));
        let empty = Account {
            name: self.account.name.clone(),
            ..Account::default()
        };
        match self.plugin.check(&empty) {
            Ok(_) => Err("check accepted an empty config (the network answered 200 `{}`)".into()),
            Err(e) => match e.reason {
                FailReason::Plugin(PluginError::InvalidConfig(_)) => Ok(None),
                FailReason::Config(why) => Ok(Some(format!("refused by the host before the plugin ran: {why}"))),
                other => Err(format!("expected invalid-config, got: {other}")),
            },
        }
    }

    /// A network with nothing new: no posts, no has-more, and the state it
    /// returns is accepted by the next poll.
    fn empty_page(&self, empty_body: Option<&str>) -> Result<Option<String>, String> {
        let bodies = empty_body.map_or(vec!["[]", "{}"], |b| vec![b]);
        let mut refused = Vec::new();
        for body in bodies {
            let script = Script::Every(response(200, HeaderMap::new(), body.to_string()));
            match self.poll(script.clone(), "") {
                Ok(out) => return self.stays_empty(script, body, out.value),
                Err(e) if e.plugin_error().is_some() => refused.push(format!("`{body}`: {}", failure(&e))),
                Err(e) => return Err(format!("the network answering `{body}`: {}", failure(&e))),
            }
        }
        Err(format!(
            "no empty answer gave an empty page (set `empty-body` in conformance.toml if this network answers differently): {}",
            refused.join("; ")
        ))
    }

    fn stays_empty(&self, script: Script, body: &str, first: Page) -> Result<Option<String>, String> {
        let empty = |page: &Page, which: &str| {
            if !page.posts.is_empty() {
                Err(format!(
                    "the {which} poll returned {} posts from a network answering `{body}`",
                    page.posts.len()
                ))
            } else if page.has_more {
                Err(format!(
                    "the {which} poll set has-more on an empty page: the host would poll again at once, forever"
                ))
            } else {
                Ok(())
            }
        };
        empty(&first, "first")?;
        let next = self.poll(script, &first.state).map_err(|e| {
            format!(
                "the next poll refused the state the first returned ({}): {}",
                shown(&first.state),
                failure(&e)
            )
        })?;
        empty(&next.value, "next")?;
        Ok(Some(format!("the network answered `{body}`")))
    }

    /// The round-trip and output checks over the author's recorded pages.
    fn recorded(&self, pages: &[RecordedPage]) -> [Check; 2] {
        if pages.is_empty() {
            return [Check::skip(ROUND_TRIP, NO_PAGES), Check::skip(OUTPUT, NO_PAGES)];
        }
        match self.walk(pages) {
            Ok(posts) => [
                Check::new(
                    ROUND_TRIP,
                    Ok(Some(format!("{} pages, {} posts", pages.len(), posts.len()))),
                ),
                self.well_formed(&posts),
            ],
            Err(Stop::Output(why)) => [Check::new(ROUND_TRIP, Err(why.clone())), Check::new(OUTPUT, Err(why))],
            Err(Stop::Other(why)) => [
                Check::new(ROUND_TRIP, Err(why)),
                Check::skip(
                    OUTPUT,
                    format!("the recorded pages could not all be polled (see `{ROUND_TRIP}`)"),
                ),
            ],
        }
    }

    /// Polls each page with the state the previous poll returned; the plugin
    /// must ask only for recorded requests, return the posts each page
    /// expects, and never return a post twice.
    fn walk(&self, pages: &[RecordedPage]) -> Result<Vec<Post>, Stop> {
        let mut state = String::new();
        let mut seen = BTreeSet::new();
        let mut posts = Vec::new();
        for (n, page) in (1..).zip(pages) {
            let result = self.poll(Script::Recorded(page.responses.clone()), &state);
            let unmatched = self.network.unmatched();
            let unmatched = if unmatched.is_empty() {
                String::new()
            } else {
                format!(
                    " (requests no recorded response of page {n} matches: {})",
                    unmatched.join(", ")
                )
            };
            let page_posts = match result {
                Ok(out) if unmatched.is_empty() => out.value,
                Ok(_) => {
                    return Err(Stop::Other(format!(
                        "page {n}: poll with state {}{unmatched}",
                        shown(&state)
                    )));
                }
                Err(e) => {
                    let why = format!(
                        "page {n}: poll with state {}: {}{unmatched}",
                        shown(&state),
                        failure(&e)
                    );
                    return Err(match e.reason {
                        FailReason::OutputLimit(_) | FailReason::InvalidOutput(_) => Stop::Output(why),
                        _ => Stop::Other(why),
                    });
                }
            };
            if let Some(want) = page.posts
                && page_posts.posts.len() != want
            {
                return Err(Stop::Other(format!(
                    "page {n}: {} posts, the recording expects {want}",
                    page_posts.posts.len()
                )));
            }
            if let Some(again) = page_posts.posts.iter().find(|p| !seen.insert(p.external_id.clone())) {
                return Err(Stop::Other(format!(
                    "page {n}: post `{}` was returned before",
                    again.external_id
                )));
            }
            state = page_posts.state;
            posts.extend(page_posts.posts);
        }
        Ok(posts)
    }

    /// What the host checks later, at commit, or not at all: times, handles.
    /// The host's caps (posts per page, bytes per field and call) already held,
    /// or the poll would have failed.
    fn well_formed(&self, posts: &[Post]) -> Check {
        if posts.is_empty() {
            return Check::skip(OUTPUT, "the recorded pages gave no posts");
        }
        let problem = posts.iter().find_map(|p| {
            let id = &p.external_id;
            if OffsetDateTime::parse(&p.created_at, &Rfc3339).is_err() {
                Some(format!(
                    "post `{id}`: created-at `{}` is not an RFC 3339 time",
                    p.created_at
                ))
            } else if p.author.handle.trim().is_empty() {
                Some(format!("post `{id}`: the author has no handle"))
            } else if p.author.handle.starts_with('@') {
                Some(format!("post `{id}`: handle `{}` starts with `@`", p.author.handle))
            } else {
                None
            }
        });
        let limits = &self.plugin.meta().limits;
        Check::new(
            OUTPUT,
            problem.map_or_else(
                || {
                    Ok(Some(format!(
                        "{} posts; at most {} per page and {} bytes per field",
                        posts.len(),
                        limits.max_posts,
                        limits.max_field_bytes
                    )))
                },
                Err,
            ),
        )
    }

    /// A network answering `answer` to everything: the first poll must fail
    /// with the plugin's own error, of the kind `accept` takes.
    fn maps_error(
        &self,
        answer: HttpResponse,
        want: &str,
        accept: impl Fn(&PluginError) -> bool,
    ) -> Result<Option<String>, String> {
        match self.poll(Script::Every(answer), "") {
            Ok(out) => Err(format!(
                "poll returned a page of {} posts; expected {want}{}",
                out.value.posts.len(),
                if out.requests.is_empty() {
                    " (it made no request)"
                } else {
                    ""
                }
            )),
            Err(e) => match e.plugin_error() {
                Some(error) if accept(error) => Ok(Some(shown(&e.reason.to_string()))),
                Some(_) => Err(format!("expected {want}, got {}", failure(&e))),
                None => Err(format!(
                    "expected {want}, but the host stopped the call: {}",
                    failure(&e)
                )),
            },
        }
    }
}
