//! The channel checks: a self-description that matches the manifest, `check`
//! and `poll` against a network that answers empty pages, errors and garbage,
//! the author's recorded pages polled in order with the state and key-value
//! writes each returned, recorded webhook calls (signed, then forged), and
//! recorded messages sent.

use std::collections::BTreeSet;

use http::HeaderMap;
use http::header::{HeaderValue, RETRY_AFTER};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::{Check, Fixtures, failure, with_logs};
use crate::plugins::Manifest;
use crate::runtime::fixtures::{RecordedPage, SendCall, WebhookCall};
use crate::runtime::http::HttpResponse;
use crate::runtime::replay::{Replay, Script, response};
use crate::runtime::types::{Capabilities, ChannelDescriptor, FieldKind, Page};
use crate::runtime::types::{Outbound, PluginError, Post, ReplyTarget, WebhookRequest, WebhookResult};
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
pub const KV: &str = "key-value writes carry over to the next poll";
pub const WEBHOOK_CALLS: &str = "recorded webhook calls are answered and give their posts";
pub const WEBHOOK_FORGED: &str = "webhook calls with a bad or missing signature are refused";
pub const SEND_REPLY: &str = "send publishes a reply";
pub const SEND_DIRECT: &str = "send delivers a direct message";

/// The Retry-After the 429 check sends, in seconds.
const RETRY_AFTER_SECS: u64 = 7;
/// Not JSON, not UTF-8 throughout: what a broken proxy might send.
const GARBAGE: &[u8] = b"<html><body>502 Bad Gateway</body></html>\xff\xfe{\"posts\": [";

const NO_PAGES: &str =
    "no recorded pages: add [[page]] entries to conformance/conformance.toml (docs/plugin-authors.md, \"Conformance\")";

pub(super) fn run(plugin: &ChannelPlugin, manifest: &Manifest, network: &Replay, fixtures: &Fixtures) -> Vec<Check> {
    let run = Run {
        plugin,
        network,
        account: fixtures.account(manifest),
    };
    let described = plugin.describe().map(|out| out.value);
    // A descriptor that did not load claims everything: each check says what fails.
    let claims = described.as_ref().map_or(
        Capabilities {
            poll: true,
            webhook: true,
            stream: false,
            reply: true,
            direct_message: true,
        },
        |d| d.capabilities,
    );
    let mut checks = vec![
        Check::new(
            DESCRIBE,
            described.map_err(|e| failure(&e)).and_then(|d| describe(&d, manifest)),
        ),
        Check::new(CHECK_EMPTY, run.check_empty()),
    ];
    if claims.poll {
        checks.extend(run.polls(fixtures));
    } else {
        let why = "describe does not claim the `poll` capability";
        checks.extend(
            [
                EMPTY_PAGE,
                ROUND_TRIP,
                OUTPUT,
                KV,
                UNAUTHORIZED,
                RATE_LIMITED,
                TRANSIENT,
                MALFORMED,
            ]
            .map(|name| Check::skip(name, why)),
        );
    }
    checks.extend(run.webhooks(claims.webhook, &fixtures.webhooks));
    checks.push(run.sends(Message::Reply, claims.reply, &fixtures.sends));
    checks.push(run.sends(Message::Direct, claims.direct_message, &fixtures.sends));
    checks
}

impl Run<'_> {
    fn polls(&self, fixtures: &Fixtures) -> Vec<Check> {
        let run = self;
        let mut checks = vec![Check::new(EMPTY_PAGE, run.empty_page(fixtures.empty_body.as_deref()))];
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
    network: &'a Replay,
    account: Account,
}

/// What the walk over the recorded pages gave.
#[derive(Default)]
struct Walked {
    posts: Vec<Post>,
    kv_writes: usize,
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

    /// The round-trip, output and key-value checks over the author's recorded pages.
    fn recorded(&self, pages: &[RecordedPage]) -> [Check; 3] {
        if pages.is_empty() {
            return [ROUND_TRIP, OUTPUT, KV].map(|name| Check::skip(name, NO_PAGES));
        }
        let not_walked = |name| {
            Check::skip(
                name,
                format!("the recorded pages could not all be polled (see `{ROUND_TRIP}`)"),
            )
        };
        match self.walk(pages) {
            Ok(walked) => [
                Check::new(
                    ROUND_TRIP,
                    Ok(Some(format!("{} pages, {} posts", pages.len(), walked.posts.len()))),
                ),
                self.well_formed(&walked.posts),
                if walked.kv_writes == 0 {
                    Check::new(KV, Ok(Some("the plugin keeps nothing in the key-value store".into())))
                } else {
                    Check::new(
                        KV,
                        Ok(Some(format!(
                            "{} writes; each poll saw the writes of the polls before it",
                            walked.kv_writes
                        ))),
                    )
                },
            ],
            Err(Stop::Output(why)) => [
                Check::new(ROUND_TRIP, Err(why.clone())),
                Check::new(OUTPUT, Err(why)),
                not_walked(KV),
            ],
            Err(Stop::Other(why)) => [Check::new(ROUND_TRIP, Err(why)), not_walked(OUTPUT), not_walked(KV)],
        }
    }

    /// Polls each page with the state and key-value store the previous poll
    /// left, as the host commits them; the plugin must ask only for recorded
    /// requests, return the posts each page expects, and never return a post
    /// twice.
    fn walk(&self, pages: &[RecordedPage]) -> Result<Walked, Stop> {
        let mut account = self.account.clone();
        let mut state = String::new();
        let mut seen = BTreeSet::new();
        let mut walked = Walked::default();
        for (n, page) in (1..).zip(pages) {
            self.network.play(Script::Recorded(page.responses.clone()));
            let result = self.plugin.poll(&account, &state);
            let unmatched = self.network.unmatched();
            let unmatched = if unmatched.is_empty() {
                String::new()
            } else {
                format!(
                    " (requests no recorded response of page {n} matches: {})",
                    unmatched.join(", ")
                )
            };
            let out = match result {
                Ok(out) if unmatched.is_empty() => out,
                Ok(out) => {
                    return Err(Stop::Other(with_logs(
                        format!("page {n}: poll with state {}{unmatched}", shown(&state)),
                        &out.logs,
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
            let page_posts = &out.value;
            if let Some(want) = page.posts
                && page_posts.posts.len() != want
            {
                return Err(Stop::Other(with_logs(
                    format!(
                        "page {n}: {} posts, the recording expects {want}",
                        page_posts.posts.len()
                    ),
                    &out.logs,
                )));
            }
            if let Some(again) = page_posts.posts.iter().find(|p| !seen.insert(p.external_id.clone())) {
                return Err(Stop::Other(with_logs(
                    format!("page {n}: post `{}` was returned before", again.external_id),
                    &out.logs,
                )));
            }
            walked.kv_writes += out.kv_changes.len();
            account.apply_kv(out.kv_changes);
            state = out.value.state;
            walked.posts.extend(out.value.posts);
        }
        Ok(walked)
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

/// The kinds of message `send` is checked with.
#[derive(Clone, Copy)]
enum Message {
    Reply,
    Direct,
}

impl Message {
    fn check(self) -> &'static str {
        match self {
            Message::Reply => SEND_REPLY,
            Message::Direct => SEND_DIRECT,
        }
    }

    fn capability(self) -> &'static str {
        match self {
            Message::Reply => "reply",
            Message::Direct => "direct-message",
        }
    }

    /// The fixture's field that makes a `[[send]]` of this kind.
    fn field(self) -> &'static str {
        match self {
            Message::Reply => "reply-to",
            Message::Direct => "recipient",
        }
    }

    fn is(self, message: &Outbound) -> bool {
        match self {
            Message::Reply => message.in_reply_to.is_some(),
            Message::Direct => message.recipient.is_some(),
        }
    }

    /// A message of this kind that a channel without the capability must refuse.
    fn probe(self) -> Outbound {
        Outbound {
            text: "a message nobody should publish".into(),
            in_reply_to: matches!(self, Message::Reply).then(|| ReplyTarget {
                external_id: "1".into(),
                author_handle: "someone".into(),
                thread_id: None,
            }),
            recipient: matches!(self, Message::Direct).then(|| "someone".into()),
        }
    }
}

/// A webhook answer the network takes as accepted.
fn accepted(status: u16) -> bool {
    (200..300).contains(&status)
}

impl Run<'_> {
    /// Each recorded call answered as recorded; then each signed one again
    /// with its body altered and without its signature, both refused.
    fn webhooks(&self, claimed: bool, calls: &[WebhookCall]) -> [Check; 2] {
        if !claimed {
            let result = self.unclaimed_webhook();
            return [WEBHOOK_CALLS, WEBHOOK_FORGED].map(|name| Check::new(name, result.clone()));
        }
        if calls.is_empty() {
            let why = "no recorded webhook calls: add [[webhook]] entries to conformance/conformance.toml (docs/plugin-authors.md, \"Conformance\")";
            return [WEBHOOK_CALLS, WEBHOOK_FORGED].map(|name| Check::skip(name, why));
        }
        let answered = calls
            .iter()
            .enumerate()
            .try_fold(0, |posts, (i, call)| Ok(posts + self.webhook(i + 1, call)?))
            .map(|posts| Some(format!("{} calls, {posts} posts", calls.len())));
        let signed: Vec<_> = calls.iter().enumerate().filter(|(_, c)| c.sign.is_some()).collect();
        let forged = if signed.is_empty() {
            Check::skip(
                WEBHOOK_FORGED,
                "no recorded webhook call is signed: give one a `sign` table (header, secret, prefix, encoding)",
            )
        } else {
            let result = signed
                .iter()
                .try_for_each(|(i, call)| self.forged(i + 1, call))
                .map(|()| Some(format!("{} signed calls, each altered and unsigned", signed.len())));
            Check::new(WEBHOOK_FORGED, result)
        };
        [Check::new(WEBHOOK_CALLS, answered), forged]
    }

    /// A channel without webhooks must take no posts from a call to one.
    fn unclaimed_webhook(&self) -> Result<Option<String>, String> {
        let request = WebhookRequest {
            method: "POST".into(),
            path: "/".into(),
            query: String::new(),
            headers: Vec::new(),
            body: br#"{"text":"a post nobody signed"}"#.to_vec(),
        };
        match self.call_webhook(&request) {
            Ok(out) if !out.value.posts.is_empty() => Err(with_logs(
                format!(
                    "describe does not claim `webhook`, yet a call gave {} posts",
                    out.value.posts.len()
                ),
                &out.logs,
            )),
            Ok(out) => Ok(Some(format!(
                "not claimed; a call was answered {} with no posts",
                out.value.response.status
            ))),
            Err(e) => Ok(Some(format!("not claimed; a call was refused: {}", e.reason))),
        }
    }

    fn call_webhook(&self, request: &WebhookRequest) -> Result<CallOutput<WebhookResult>, CallError> {
        // A webhook call makes no request of its own in any recorded flow.
        self.network.play(Script::Recorded(Vec::new()));
        self.plugin.handle_webhook(&self.account, request)
    }

    /// Webhook call `n` answered as recorded; the number of posts it gave.
    fn webhook(&self, n: usize, call: &WebhookCall) -> Result<usize, String> {
        let request = call
            .signed(&self.account)
            .map_err(|why| format!("webhook {n}: {why}"))?;
        let out = self
            .call_webhook(&request)
            .map_err(|e| format!("webhook {n}: {}", failure(&e)))?;
        let result = &out.value;
        let status = result.response.status;
        let problem = match (call.status, &call.contains) {
            (Some(want), _) if status != want => Some(format!("answered {status}, the recording expects {want}")),
            (None, _) if !accepted(status) => Some(format!("answered {status}, the recording expects a 2xx")),
            (_, Some(text)) if !String::from_utf8_lossy(&result.response.body).contains(text.as_str()) => {
                Some(format!(
                    "the answer {} does not contain `{text}`",
                    shown(&String::from_utf8_lossy(&result.response.body))
                ))
            }
            _ => match call.posts {
                Some(want) if result.posts.len() != want => Some(format!(
                    "gave {} posts, the recording expects {want}",
                    result.posts.len()
                )),
                _ => None,
            },
        };
        match problem {
            Some(why) => Err(with_logs(format!("webhook {n}: {why}"), &out.logs)),
            None => Ok(result.posts.len()),
        }
    }

    /// Signed call `n` with one byte of its body changed, then without its
    /// signature header: each must be refused (a 4xx answer or an error) and
    /// give no posts.
    fn forged(&self, n: usize, call: &WebhookCall) -> Result<(), String> {
        let Some(sign) = &call.sign else { return Ok(()) };
        let signed = call
            .signed(&self.account)
            .map_err(|why| format!("webhook {n}: {why}"))?;
        let mut altered = signed.clone();
        match altered.body.last_mut() {
            Some(byte) => *byte ^= 0x01,
            None => altered.body.push(b' '),
        }
        let mut unsigned = signed;
        unsigned.headers.retain(|h| !h.name.eq_ignore_ascii_case(&sign.header));
        for (what, request) in [("with its body altered", altered), ("without its signature", unsigned)] {
            match self.call_webhook(&request) {
                Err(e) if e.plugin_error().is_some() => {}
                Err(e) => {
                    return Err(format!(
                        "webhook {n} {what}: the host stopped the call: {}",
                        failure(&e)
                    ));
                }
                Ok(out) if !out.value.posts.is_empty() => {
                    return Err(with_logs(
                        format!("webhook {n} {what} gave {} posts", out.value.posts.len()),
                        &out.logs,
                    ));
                }
                Ok(out) if !(400..500).contains(&out.value.response.status) => {
                    return Err(with_logs(
                        format!(
                            "webhook {n} {what} was answered {}, not refused with a 4xx",
                            out.value.response.status
                        ),
                        &out.logs,
                    ));
                }
                Ok(_) => {}
            }
        }
        Ok(())
    }

    /// The recorded messages of one kind, each sent against its recorded answers.
    fn sends(&self, kind: Message, claimed: bool, calls: &[SendCall]) -> Check {
        let name = kind.check();
        if !claimed {
            return Check::new(name, self.unclaimed_send(kind));
        }
        let of_kind: Vec<(usize, &SendCall)> = (1..).zip(calls).filter(|(_, c)| kind.is(&c.message)).collect();
        if of_kind.is_empty() {
            return Check::skip(
                name,
                format!(
                    "no recorded [[send]] with `{}` in conformance/conformance.toml",
                    kind.field()
                ),
            );
        }
        let result = of_kind
            .iter()
            .try_for_each(|(n, call)| self.send(*n, call))
            .map(|()| Some(format!("{} messages", of_kind.len())));
        Check::new(name, result)
    }

    /// A channel that does not claim the kind's capability must refuse such
    /// a message with its own error, without a request.
    fn unclaimed_send(&self, kind: Message) -> Result<Option<String>, String> {
        let capability = kind.capability();
        let message = kind.probe();
        self.network.play(Script::Recorded(Vec::new()));
        let before = self.network.seen_count();
        let result = self.plugin.send(&self.account, &message);
        let requests = self.network.seen_count() - before;
        match result {
            Ok(out) => Err(with_logs(
                format!(
                    "describe does not claim `{capability}`, yet send reported `{}` as sent",
                    out.value.external_id
                ),
                &out.logs,
            )),
            Err(_) if requests > 0 => Err(format!(
                "describe does not claim `{capability}`, yet send made {requests} requests before it failed"
            )),
            Err(e) if e.plugin_error().is_some() => Ok(Some(format!("not claimed; refused: {}", e.reason))),
            Err(e) => Err(format!(
                "describe does not claim `{capability}`; send should refuse with its own error, but the host stopped it: {}",
                failure(&e)
            )),
        }
    }

    fn send(&self, n: usize, call: &SendCall) -> Result<(), String> {
        self.network.play(Script::Recorded(call.responses.clone()));
        let result = self.plugin.send(&self.account, &call.message);
        let unmatched = self.network.unmatched();
        let out = result.map_err(|e| format!("send {n}: {}", failure(&e)))?;
        let problem = if !unmatched.is_empty() {
            Some(format!(
                "requests no recorded response matches: {}",
                unmatched.join(", ")
            ))
        } else if out.value.external_id.trim().is_empty() {
            Some("reported an empty external id".to_string())
        } else {
            match &call.external_id {
                Some(want) if *want != out.value.external_id => Some(format!(
                    "reported external id `{}`, the recording expects `{want}`",
                    out.value.external_id
                )),
                _ => None,
            }
        };
        match problem {
            Some(why) => Err(with_logs(format!("send {n}: {why}"), &out.logs)),
            None => Ok(()),
        }
    }
}
