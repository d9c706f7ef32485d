//! A fake WhatsApp Business Cloud API (<https://developers.facebook.com/docs/whatsapp/cloud-api>)
//! for one business number of one WhatsApp Business Account: `GET /{ver}/{phone-number-id}`,
//! `POST /{ver}/{phone-number-id}/messages` (text and template messages,
//! <https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages>),
//! `GET /{ver}/{waba-id}/message_templates` with Graph's cursor paging
//! (<https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates>);
//! Graph error bodies with WhatsApp's codes
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes>) and faults;
//! and the webhook deliveries Meta makes
//! (<https://developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples>),
//! signed with the app secret the test gives it (`X-Hub-Signature-256`).
//!
//! Like WhatsApp, the fake takes free text to a customer only within 24 hours
//! of the last message it delivered from them (else code 131047), and a
//! template only when it is approved in that language with as many
//! parameters as its body has placeholders (else 132001, 132000).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

pub use super::meta::hmac_sha256;
pub use super::server::RecordedRequest;
use super::server::Server;
use super::tokens::{AccessTokens, bearer};

/// The system user's token the fake accepts, as `Authorization: Bearer TOKEN`.
pub const TOKEN: &str = "fake-whatsapp-system-user-token";
pub const PHONE_NUMBER_ID: &str = "106540352242922";
pub const DISPLAY_PHONE_NUMBER: &str = "15550783881";
pub const VERIFIED_NAME: &str = "Acme Support";
pub const WABA_ID: &str = "102290129340398";
pub const VERSION: &str = "v21.0";
/// How long after a customer's message free text is taken.
pub const WINDOW: Duration = Duration::from_secs(24 * 3600);
const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
const MAX_TEXT_CHARS: usize = 4096;
const MAX_BODY_BYTES: usize = 1 << 20;

/// A failure injected into the next API request, in the order queued. A
/// faulted request has no side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// That status with Graph's body of an unexpected error (code 131000; `is_transient` for a 5xx).
    Status(u16),
    /// 200 with a truncated body.
    Malformed,
    /// A throttle of `code` (130429 throughput, 131056 pair rate, 131048
    /// spam rate, 80007 account, 4 app), as 429 for the message limits and
    /// 400 for the others, with `Retry-After` when given.
    Throttled { code: i64, retry_after_secs: Option<u64> },
}

/// A template of the account; only `APPROVED` ones can be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub name: String,
    pub language: String,
    pub category: String,
    /// The body, with placeholders `{{1}}`, `{{2}}`, ...
    pub body: String,
    pub status: String,
}

impl Template {
    pub fn approved(name: &str, language: &str, category: &str, body: &str) -> Template {
        Template {
            name: name.into(),
            language: language.into(),
            category: category.into(),
            body: body.into(),
            status: "APPROVED".into(),
        }
    }

    /// How many parameters the body takes: its highest placeholder.
    pub fn placeholders(&self) -> usize {
        let mut highest = 0;
        let mut rest = self.body.as_str();
        while let Some(start) = rest.find("{{") {
            rest = &rest[start + 2..];
            let Some(end) = rest.find("}}") else { break };
            if let Ok(n) = rest[..end].trim().parse::<usize>() {
                highest = highest.max(n);
            }
            rest = &rest[end + 2..];
        }
        highest
    }
}

/// A message the business number sent through the API.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The wamid the API answered.
    pub id: String,
    pub to: String,
    /// `text` or `template`.
    pub kind: String,
    /// A text message's body; a template's body with its parameters filled in.
    pub text: String,
    /// A template's name and language.
    pub template: Option<(String, String)>,
    /// The message quoted (`context.message_id`).
    pub context: Option<String>,
    /// The request body as sent.
    pub body: Value,
}

/// A signed webhook delivery, as Meta POSTs it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub body: Vec<u8>,
    /// The `X-Hub-Signature-256` value: `sha256=` hex HMAC of the body.
    pub signature: String,
}

impl Delivery {
    /// The headers Meta sends with it.
    pub fn headers(&self) -> Vec<(String, String)> {
        vec![
            ("content-type".into(), "application/json".into()),
            ("x-hub-signature-256".into(), self.signature.clone()),
        ]
    }

    /// POSTs it to `url` (`http://host:port/path`, e.g. a running server's
    /// `/hooks/{channel}`) as Meta does; the answer's status and body.
    pub async fn post_to(&self, url: &str) -> anyhow::Result<(u16, String)> {
        request("POST", url, &self.headers(), &self.body).await
    }
}

/// A running fake WhatsApp; it stops when dropped.
pub struct FakeWhatsApp {
    server: Server,
    app_secret: String,
    state: Shared,
}

type Shared = Arc<Mutex<State>>;

struct State {
    base_url: String,
    seq: u64,
    /// Customers' names by wa_id, as the deliveries' `contacts` give them.
    names: HashMap<String, String>,
    /// When each customer last wrote (Unix seconds): their window's start.
    last_inbound: HashMap<String, u64>,
    templates: Vec<Template>,
    sent: Vec<Sent>,
    tokens: AccessTokens,
    faults: VecDeque<Fault>,
    requests: Vec<RecordedRequest>,
}

impl FakeWhatsApp {
    /// Binds 127.0.0.1 on a free port; deliveries are signed with `app_secret`.
    pub async fn start(app_secret: &str) -> anyhow::Result<Self> {
        let (server, state) = Server::start("the fake WhatsApp server", |base| {
            let state: Shared = Arc::new(Mutex::new(State::new(base)));
            Ok((Router::new().fallback(handle).with_state(Arc::clone(&state)), state))
        })
        .await?;
        Ok(Self {
            server,
            app_secret: app_secret.to_string(),
            state,
        })
    }

    /// `http://127.0.0.1:PORT`: the Graph origin, without the version.
    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// A text message from `(wa_id, name)`, sent now: one entry of a change's `messages`.
    pub fn text(&self, from: (&str, &str), body: &str) -> Value {
        self.text_at(from, body, now_secs())
    }

    /// A text message sent at `at` (Unix seconds): an old one leaves the window closed.
    pub fn text_at(&self, from: (&str, &str), body: &str, at: u64) -> Value {
        let id = self.customer(from);
        json!({ "from": from.0, "id": id, "timestamp": at.to_string(), "type": "text", "text": { "body": body } })
    }

    /// A text message that quotes message `context_id` (one of the business's, or the customer's own).
    pub fn reply(&self, from: (&str, &str), body: &str, context_id: &str) -> Value {
        let mut message = self.text(from, body);
        message["context"] = json!({ "from": DISPLAY_PHONE_NUMBER, "id": context_id });
        message
    }

    /// A photo, with its caption when given; the media id is in the message.
    pub fn image(&self, from: (&str, &str), caption: Option<&str>) -> Value {
        let id = self.customer(from);
        let media_id = format!("{}", 2_754_859_441_498_000u64 + self.lock().seq);
        let mut image = json!({ "mime_type": "image/jpeg",
            "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3", "id": media_id });
        if let Some(caption) = caption {
            image["caption"] = json!(caption);
        }
        json!({ "from": from.0, "id": id, "timestamp": now_secs().to_string(), "type": "image", "image": image })
    }

    /// A tap on a reply button (`button_reply`) of the business's interactive message `context_id`.
    pub fn button_reply(&self, from: (&str, &str), button: (&str, &str), context_id: &str) -> Value {
        let id = self.customer(from);
        json!({ "context": { "from": DISPLAY_PHONE_NUMBER, "id": context_id },
            "from": from.0, "id": id, "timestamp": now_secs().to_string(), "type": "interactive",
            "interactive": { "type": "button_reply", "button_reply": { "id": button.0, "title": button.1 } } })
    }

    /// A reaction to message `message_id`: a message, but nothing to answer.
    pub fn reaction(&self, from: (&str, &str), message_id: &str, emoji: &str) -> Value {
        let id = self.customer(from);
        json!({ "from": from.0, "id": id, "timestamp": now_secs().to_string(), "type": "reaction",
            "reaction": { "message_id": message_id, "emoji": emoji } })
    }

    /// The status of the business's message `id` to `recipient`: `sent`, `delivered` or `read`.
    pub fn status(&self, id: &str, recipient: &str, status: &str) -> Value {
        json!({ "id": id, "status": status, "timestamp": now_secs().to_string(), "recipient_id": recipient,
            "conversation": { "id": "a75d17ad06104c51166f948319b03c6a", "origin": { "type": "service" } },
            "pricing": { "billable": true, "pricing_model": "CBP", "category": "service" } })
    }

    /// Message `id` to `recipient` failed with WhatsApp's error `code` and `title`.
    pub fn failed(&self, id: &str, recipient: &str, code: i64, title: &str) -> Value {
        json!({ "id": id, "status": "failed", "timestamp": now_secs().to_string(), "recipient_id": recipient,
            "errors": [{ "code": code, "title": title, "message": title,
                "error_data": { "details": title }, "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/" }] })
    }

    /// The `messages` payload of the business number carrying `messages`
    /// and `statuses`, with the senders' `contacts`. The customers' windows
    /// open now: the network delivers what it made.
    pub fn payload(&self, messages: &[Value], statuses: &[Value]) -> Value {
        let mut st = self.lock();
        let mut contacts: Vec<Value> = Vec::new();
        for message in messages {
            let Some(from) = message["from"].as_str() else { continue };
            if message["type"] != "system" {
                let at = message["timestamp"].as_str().and_then(|t| t.parse().ok()).unwrap_or(0);
                let last = st.last_inbound.entry(from.to_string()).or_insert(at);
                *last = (*last).max(at);
            }
            if !contacts.iter().any(|c| c["wa_id"] == from) {
                let name = st.names.get(from).cloned().unwrap_or_default();
                contacts.push(json!({ "profile": { "name": name }, "wa_id": from }));
            }
        }
        let mut value = json!({ "messaging_product": "whatsapp",
            "metadata": { "display_phone_number": DISPLAY_PHONE_NUMBER, "phone_number_id": PHONE_NUMBER_ID } });
        if !messages.is_empty() {
            value["contacts"] = json!(contacts);
            value["messages"] = json!(messages);
        }
        if !statuses.is_empty() {
            value["statuses"] = json!(statuses);
        }
        json!({ "object": "whatsapp_business_account",
            "entry": [{ "id": WABA_ID, "changes": [{ "value": value, "field": "messages" }] }] })
    }

    /// [`FakeWhatsApp::payload`], signed.
    pub fn delivery(&self, messages: &[Value], statuses: &[Value]) -> Delivery {
        self.deliver(&self.payload(messages, statuses))
    }

    /// Any payload, signed as Meta signs: HMAC-SHA256 of the raw body with the app secret.
    pub fn deliver(&self, payload: &Value) -> Delivery {
        let body = payload.to_string().into_bytes();
        let signature = format!("sha256={}", hex::encode(hmac_sha256(self.app_secret.as_bytes(), &body)));
        Delivery { body, signature }
    }

    /// The customer's window closes: their last message is 25 hours old.
    pub fn close_window(&self, wa_id: &str) {
        let ago = now_secs().saturating_sub(WINDOW.as_secs() + 3600);
        self.lock().last_inbound.insert(wa_id.to_string(), ago);
    }

    /// Another template of the account (a pending or rejected one is listed
    /// only when asked for, and cannot be sent).
    pub fn add_template(&self, template: Template) {
        self.lock().templates.push(template);
    }

    /// The token stops working: every request gets 401, code 190.
    pub fn revoke_token(&self) {
        self.lock().tokens.expire_all();
    }

    pub fn fail_next(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// What the business number sent, oldest first.
    pub fn sent(&self) -> Vec<Sent> {
        self.lock().sent.clone()
    }

    /// A new message id from customer `(wa_id, name)`, whose name the next payload's contacts carry.
    fn customer(&self, from: (&str, &str)) -> String {
        let mut st = self.lock();
        st.names.insert(from.0.to_string(), from.1.to_string());
        st.wamid()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl State {
    fn new(base_url: &str) -> Self {
        State {
            base_url: base_url.to_string(),
            seq: 0,
            names: HashMap::new(),
            last_inbound: HashMap::new(),
            templates: seed_templates(),
            sent: Vec::new(),
            // A system user's token does not expire; it can be revoked.
            tokens: AccessTokens::new(TOKEN, "fake-whatsapp-token-", Duration::from_secs(u64::from(u32::MAX))),
            faults: VecDeque::new(),
            requests: Vec::new(),
        }
    }

    /// Ids shaped like WhatsApp's (`wamid.` and base64).
    fn wamid(&mut self) -> String {
        self.seq += 1;
        format!("wamid.HBgLMTY1MDU1NTEyMzQVAgASGBQzQUI{:010}RkFLRQA=", self.seq)
    }

    fn window_open(&self, wa_id: &str) -> bool {
        self.last_inbound
            .get(wa_id)
            .is_some_and(|at| now_secs() < at.saturating_add(WINDOW.as_secs()))
    }
}

/// The templates an account starts with: Meta's sample `hello_world`, and
/// bodies from the template guides
/// (<https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates>).
fn seed_templates() -> Vec<Template> {
    let mut pending = Template::approved("spring_sale", "en_US", "MARKETING", "Our spring sale starts {{1}}.");
    pending.status = "PENDING".into();
    vec![
        Template::approved(
            "hello_world",
            "en_US",
            "UTILITY",
            "Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to test with us.",
        ),
        Template::approved(
            "order_update",
            "en_US",
            "UTILITY",
            "Hi {{1}}, your order {{2}} is on its way.",
        ),
        Template::approved(
            "order_update",
            "de",
            "UTILITY",
            "Hallo {{1}}, Ihre Bestellung {{2}} ist unterwegs.",
        ),
        Template::approved(
            "seasonal_promotion",
            "en_US",
            "MARKETING",
            "Shop now through {{1}} and use code {{2}} to get {{3}} off of all merchandise.",
        ),
        pending,
    ]
}

/// A response before its headers are added.
struct Reply {
    status: StatusCode,
    body: Vec<u8>,
    retry_after: Option<u64>,
}

impl Reply {
    fn ok(value: &Value) -> Self {
        Reply {
            status: StatusCode::OK,
            body: value.to_string().into_bytes(),
            retry_after: None,
        }
    }

    /// Graph's error body with WhatsApp's `error_data.details`.
    fn error(status: StatusCode, code: i64, message: &str, details: &str) -> Self {
        let mut error = json!({ "message": message, "type": "OAuthException", "code": code,
            "fbtrace_id": "AazKXqjYbrxbGlNUpWnEZeZ" });
        if !details.is_empty() {
            error["error_data"] = json!({ "messaging_product": "whatsapp", "details": details });
        }
        Reply {
            status,
            body: json!({ "error": error }).to_string().into_bytes(),
            retry_after: None,
        }
    }

    fn invalid(details: &str) -> Self {
        Self::error(StatusCode::BAD_REQUEST, 100, "(#100) Invalid parameter", details)
    }

    fn finish(self) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json; charset=UTF-8"),
        );
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn handle(AxumState(shared): AxumState<Shared>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY_BYTES).await.unwrap_or_default();
    let recorded = RecordedRequest::of(&parts, &body);
    let mut st = lock(&shared);
    st.requests.push(recorded.clone());
    if let Some(fault) = st.faults.pop_front() {
        return fault_reply(fault).finish();
    }
    if !bearer(&parts.headers).is_some_and(|t| st.tokens.accepts(t)) {
        return Reply::error(
            StatusCode::UNAUTHORIZED,
            190,
            "Invalid OAuth access token - Cannot parse access token",
            "",
        )
        .finish();
    }
    let segments: Vec<&str> = recorded.path.trim_matches('/').split('/').collect();
    let params: HashMap<String, String> = recorded.query_pairs().into_iter().collect();
    let reply = match (parts.method.as_str(), segments.as_slice()) {
        (_, [version, ..]) if !is_version(version) => {
            Reply::error(StatusCode::BAD_REQUEST, 2500, "Unknown path components", "")
        }
        ("GET", [_, PHONE_NUMBER_ID]) => {
            let mut number = json!({ "id": PHONE_NUMBER_ID });
            let fields = params.get("fields").cloned().unwrap_or_default();
            for field in fields.split(',').map(str::trim) {
                match field {
                    "display_phone_number" => number[field] = json!("+1 555-078-3881"),
                    "verified_name" => number[field] = json!(VERIFIED_NAME),
                    "quality_rating" => number[field] = json!("GREEN"),
                    _ => {}
                }
            }
            Reply::ok(&number)
        }
        ("POST", [_, PHONE_NUMBER_ID, "messages"]) => send(&mut st, &recorded.body),
        ("GET", [version, WABA_ID, "message_templates"]) => {
            let path = format!("/{version}/{WABA_ID}/message_templates");
            templates(&st, &path, &params)
        }
        (_, [_, id, ..]) => Reply::error(
            StatusCode::BAD_REQUEST,
            100,
            &format!(
                "Unsupported request - method type: {}. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
                parts.method.as_str().to_lowercase()
            ),
            "",
        ),
        _ => Reply::error(StatusCode::BAD_REQUEST, 2500, "Unknown path components", ""),
    };
    reply.finish()
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| {
            [major, minor]
                .iter()
                .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        })
}

fn fault_reply(fault: Fault) -> Reply {
    match fault {
        Fault::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut reply = Reply::error(status, 131_000, "Something went wrong", "Something went wrong.");
            if status.is_server_error() {
                reply.body = json!({ "error": { "message": "An unexpected error has occurred. Please retry your request later.",
                    "type": "OAuthException", "is_transient": true, "code": 2, "fbtrace_id": "AazKXqjYbrxbGlNUpWnEZeZ" } })
                .to_string()
                .into_bytes();
            }
            reply
        }
        Fault::Malformed => Reply {
            status: StatusCode::OK,
            body: br#"{"messaging_product":"whatsapp","messages":[{"id":"wamid.HBg"#.to_vec(),
            retry_after: None,
        },
        Fault::Throttled { code, retry_after_secs } => {
            let (status, message) = match code {
                130_429 => (StatusCode::TOO_MANY_REQUESTS, "(#130429) Rate limit hit"),
                131_056 => (
                    StatusCode::TOO_MANY_REQUESTS,
                    "(#131056) (Business Account, Consumer Account) pair rate limit hit",
                ),
                131_048 => (StatusCode::BAD_REQUEST, "(#131048) Spam rate limit hit"),
                80_007 => (StatusCode::BAD_REQUEST, "(#80007) Rate limit issues"),
                _ => (StatusCode::BAD_REQUEST, "(#4) Application request limit reached"),
            };
            let mut reply = Reply::error(status, code, message, "");
            reply.retry_after = retry_after_secs;
            reply
        }
    }
}

/// `POST /{phone-number-id}/messages`: a text or template message.
fn send(st: &mut State, body: &str) -> Reply {
    let Ok(message) = serde_json::from_str::<Value>(body) else {
        return Reply::invalid("The request body is not JSON.");
    };
    if message["messaging_product"] != "whatsapp" {
        return Reply::error(
            StatusCode::BAD_REQUEST,
            100,
            "(#100) The parameter messaging_product is required.",
            "",
        );
    }
    let to = message["to"]
        .as_str()
        .unwrap_or_default()
        .trim_start_matches('+')
        .to_string();
    if to.is_empty() || !to.bytes().all(|b| b.is_ascii_digit()) {
        return Reply::invalid("Invalid parameter: to");
    }
    let context = message["context"]["message_id"].as_str().map(str::to_string);
    let kind = message["type"].as_str().unwrap_or("text").to_string();
    let (text, template) = match kind.as_str() {
        "text" => {
            let text = message["text"]["body"].as_str().unwrap_or_default();
            if text.trim().is_empty() {
                return Reply::invalid("Param text['body'] is required.");
            }
            if text.chars().count() > MAX_TEXT_CHARS {
                return Reply::invalid("Param text['body'] must be at most 4096 characters long.");
            }
            if !st.window_open(&to) {
                return Reply::error(
                    StatusCode::BAD_REQUEST,
                    131_047,
                    "(#131047) Re-engagement message",
                    "Message failed to send because more than 24 hours have passed since the customer last replied to this number.",
                );
            }
            (text.to_string(), None)
        }
        "template" => match fill(st, &message["template"]) {
            Ok((text, name, language)) => (text, Some((name, language))),
            Err(reply) => return reply,
        },
        other => return Reply::invalid(&format!("Unsupported message type {other} for this fake.")),
    };
    let id = st.wamid();
    st.sent.push(Sent {
        id: id.clone(),
        to: to.clone(),
        kind: kind.clone(),
        text,
        template,
        context,
        body: message,
    });
    let mut sent = json!({ "id": id });
    if kind == "template" {
        sent["message_status"] = json!("accepted");
    }
    Reply::ok(
        &json!({ "messaging_product": "whatsapp", "contacts": [{ "input": to, "wa_id": to }], "messages": [sent] }),
    )
}

/// A template message's body filled in, and its name and language; the
/// error WhatsApp gives when the template is unknown or its parameters do not fit.
fn fill(st: &State, spec: &Value) -> Result<(String, String, String), Reply> {
    let name = spec["name"].as_str().unwrap_or_default();
    let language = spec["language"]["code"].as_str().unwrap_or_default();
    let Some(template) = st
        .templates
        .iter()
        .find(|t| t.name == name && t.language == language && t.status == "APPROVED")
    else {
        return Err(Reply::error(
            StatusCode::NOT_FOUND,
            132_001,
            "(#132001) Template name does not exist in the translation",
            &format!("template name ({name}) does not exist in {language}"),
        ));
    };
    let mut parameters: Vec<String> = Vec::new();
    for component in spec["components"].as_array().into_iter().flatten() {
        if component["type"] != "body" {
            continue;
        }
        for parameter in component["parameters"].as_array().into_iter().flatten() {
            let text = parameter["text"].as_str().unwrap_or_default();
            if parameter["type"] != "text" || text.trim().is_empty() || text.contains(['\n', '\t']) {
                return Err(Reply::error(
                    StatusCode::BAD_REQUEST,
                    132_018,
                    "(#132018) There was an issue with the parameters in your template.",
                    "Param text cannot have new-line/tab characters or more than 4 consecutive spaces",
                ));
            }
            parameters.push(text.to_string());
        }
    }
    let expected = template.placeholders();
    if parameters.len() != expected {
        return Err(Reply::error(
            StatusCode::BAD_REQUEST,
            132_000,
            "(#132000) Number of parameters does not match the expected number of params",
            &format!(
                "body: number of localizable_params ({}) does not match the expected number of params ({expected})",
                parameters.len()
            ),
        ));
    }
    let mut text = template.body.clone();
    for (n, value) in (1..).zip(&parameters) {
        text = text.replace(&format!("{{{{{n}}}}}"), value);
    }
    Ok((text, template.name.clone(), template.language.clone()))
}

/// `GET /{waba-id}/message_templates`: the templates, filtered by `status`
/// (and `name`, `language`), a page of `limit` after the `after` cursor.
fn templates(st: &State, path: &str, params: &HashMap<String, String>) -> Reply {
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return Reply::invalid("Param limit must be a number between 1 and 100"),
    };
    let matches = |t: &Template, key: &str, value: &str| match key {
        "status" => value.split(',').any(|s| s.trim().eq_ignore_ascii_case(&t.status)),
        "name" => t.name == value,
        "language" => t.language == value,
        _ => true,
    };
    let all: Vec<(usize, &Template)> = st
        .templates
        .iter()
        .enumerate()
        .filter(|(_, t)| params.iter().all(|(k, v)| matches(t, k, v)))
        .collect();
    let from = match params.get("after") {
        None => 0,
        Some(cursor) => match decode_cursor(cursor).and_then(|i| all.iter().position(|(at, _)| *at == i)) {
            Some(position) => position + 1,
            None => return Reply::invalid("Param after is not a valid cursor"),
        },
    };
    let page: Vec<(usize, &Template)> = all.iter().skip(from).take(limit).copied().collect();
    let data: Vec<Value> = page
        .iter()
        .map(|(i, t)| {
            json!({ "name": t.name, "language": t.language, "status": t.status, "category": t.category,
                "id": format!("{}", 1_000_000_000_000_000u64 + *i as u64),
                "components": [{ "type": "BODY", "text": t.body }, { "type": "FOOTER", "text": "Acme" }] })
        })
        .collect();
    let mut out = json!({ "data": data });
    if let (Some((first, _)), Some((last, _))) = (page.first(), page.last()) {
        out["paging"] = json!({ "cursors": { "before": encode_cursor(*first), "after": encode_cursor(*last) } });
        if all.len() > from + page.len() {
            let mut query: Vec<(String, String)> = params
                .iter()
                .filter(|(k, _)| *k != "after")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            query.sort();
            query.push(("after".into(), encode_cursor(*last)));
            let query: Vec<String> = query
                .iter()
                .map(|(k, v)| format!("{k}={}", crate::util::cgi_escape(v)))
                .collect();
            out["paging"]["next"] = json!(format!("{}{path}?{}", st.base_url, query.join("&")));
        }
    }
    Reply::ok(&out)
}

/// Opaque to clients: the index the page ends at.
fn encode_cursor(index: usize) -> String {
    format!("QVFIUk{:x}", index ^ 0x5a5a)
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let hex = cursor.strip_prefix("QVFIUk")?;
    usize::from_str_radix(hex, 16).ok().map(|n| n ^ 0x5a5a)
}

/// One HTTP/1.1 request over plain TCP (`http://` only: loopback servers in
/// tests); the answer's status and body. The fakes crate has no HTTP client.
async fn request(method: &str, url: &str, headers: &[(String, String)], body: &[u8]) -> anyhow::Result<(u16, String)> {
    let rest = url.strip_prefix("http://").context("only http:// URLs are supported")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = tokio::net::TcpStream::connect(authority)
        .await
        .with_context(|| format!("connecting to {authority}"))?;
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await?;
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .context("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&answer[..split]).into_owned();
    let mut content = answer[split + 4..].to_vec();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("the answer has no status")?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    if chunked {
        content = dechunk(&content)?;
    }
    Ok((status, String::from_utf8_lossy(&content).into_owned()))
}

fn dechunk(mut data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .context("a chunk without a size line")?;
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            bail!("a chunk shorter than its size");
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: (&str, &str) = ("16505551234", "Ann Buyer");

    async fn api(fake: &FakeWhatsApp, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let headers = vec![
            ("authorization".to_string(), format!("Bearer {TOKEN}")),
            ("content-type".to_string(), "application/json".to_string()),
        ];
        let body = if body.is_null() {
            Vec::new()
        } else {
            body.to_string().into_bytes()
        };
        let (status, text) = request(method, &format!("{}{path}", fake.base_url()), &headers, &body)
            .await
            .unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    fn text_to(to: &str, body: &str) -> Value {
        json!({ "messaging_product": "whatsapp", "recipient_type": "individual", "to": to, "type": "text", "text": { "body": body } })
    }

    fn template_to(to: &str, name: &str, language: &str, parameters: &[&str]) -> Value {
        let parameters: Vec<Value> = parameters
            .iter()
            .map(|p| json!({ "type": "text", "text": p }))
            .collect();
        json!({ "messaging_product": "whatsapp", "to": to, "type": "template", "template": { "name": name,
            "language": { "code": language }, "components": [{ "type": "body", "parameters": parameters }] } })
    }

    #[tokio::test]
    async fn free_text_only_inside_the_window_templates_always() {
        let fake = FakeWhatsApp::start("secret").await.unwrap();
        let messages = format!("/{VERSION}/{PHONE_NUMBER_ID}/messages");
        let (status, answer) = api(&fake, "POST", &messages, &text_to(ANN.0, "Hello?")).await;
        assert_eq!(
            (status, answer["error"]["code"].as_i64()),
            (400, Some(131_047)),
            "no message yet: no window"
        );

        let _ = fake.delivery(&[fake.text(ANN, "Where is my order?")], &[]);
        let (status, answer) = api(&fake, "POST", &messages, &text_to(ANN.0, "On its way!")).await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["messages"][0]["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("wamid."));

        fake.close_window(ANN.0);
        let (status, _) = api(&fake, "POST", &messages, &text_to(ANN.0, "Anything else?")).await;
        assert_eq!(status, 400);
        let (status, answer) = api(
            &fake,
            "POST",
            &messages,
            &template_to(ANN.0, "order_update", "en_US", &["Ann", "A-1001"]),
        )
        .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["messages"][0]["message_status"], "accepted");
        let (status, answer) = api(
            &fake,
            "POST",
            &messages,
            &template_to(ANN.0, "order_update", "en_US", &["Ann"]),
        )
        .await;
        assert_eq!((status, answer["error"]["code"].as_i64()), (400, Some(132_000)));
        let (status, answer) = api(
            &fake,
            "POST",
            &messages,
            &template_to(ANN.0, "order_update", "fr", &["a", "b"]),
        )
        .await;
        assert_eq!((status, answer["error"]["code"].as_i64()), (404, Some(132_001)));
        let (status, _) = api(
            &fake,
            "POST",
            &messages,
            &template_to(ANN.0, "spring_sale", "en_US", &["Monday"]),
        )
        .await;
        assert_eq!(status, 404, "a pending template cannot be sent");

        let sent = fake.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!(
            (sent[0].id.as_str(), sent[0].text.as_str()),
            (id.as_str(), "On its way!")
        );
        assert_eq!(sent[1].text, "Hi Ann, your order A-1001 is on its way.");
        assert_eq!(sent[1].template, Some(("order_update".into(), "en_US".into())));
    }

    #[tokio::test]
    async fn templates_page_with_cursors() {
        let fake = FakeWhatsApp::start("secret").await.unwrap();
        for n in 0..3 {
            fake.add_template(Template::approved(
                &format!("extra_{n}"),
                "en_US",
                "UTILITY",
                "Hi {{1}}",
            ));
        }
        let path = format!("/{VERSION}/{WABA_ID}/message_templates?status=APPROVED&limit=3");
        let (status, first) = api(&fake, "GET", &path, &Value::Null).await;
        assert_eq!(status, 200);
        assert_eq!(first["data"].as_array().unwrap().len(), 3);
        let after = first["paging"]["cursors"]["after"].as_str().unwrap();
        assert!(first["paging"]["next"].as_str().unwrap().contains(after));
        let (_, second) = api(&fake, "GET", &format!("{path}&after={after}"), &Value::Null).await;
        let names: Vec<&str> = second["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["seasonal_promotion", "extra_0", "extra_1"]);
        assert!(second["paging"]["next"].is_string());
        let after = second["paging"]["cursors"]["after"].as_str().unwrap();
        let (_, last) = api(&fake, "GET", &format!("{path}&after={after}"), &Value::Null).await;
        assert_eq!(last["data"].as_array().unwrap().len(), 1);
        assert!(last["paging"].get("next").is_none(), "the last page has no next");
    }

    #[tokio::test]
    async fn tokens_and_faults() {
        let fake = FakeWhatsApp::start("secret").await.unwrap();
        let number = format!("/{VERSION}/{PHONE_NUMBER_ID}?fields=display_phone_number,verified_name");
        let (status, answer) = api(&fake, "GET", &number, &Value::Null).await;
        assert_eq!((status, answer["verified_name"].as_str()), (200, Some(VERIFIED_NAME)));
        fake.fail_next(Fault::Throttled {
            code: 130_429,
            retry_after_secs: Some(3),
        });
        fake.fail_next(Fault::Status(500));
        let (status, answer) = api(&fake, "GET", &number, &Value::Null).await;
        assert_eq!((status, answer["error"]["code"].as_i64()), (429, Some(130_429)));
        let (status, answer) = api(&fake, "GET", &number, &Value::Null).await;
        assert_eq!((status, answer["error"]["is_transient"].as_bool()), (500, Some(true)));
        fake.revoke_token();
        let (status, answer) = api(&fake, "GET", &number, &Value::Null).await;
        assert_eq!((status, answer["error"]["code"].as_i64()), (401, Some(190)));
        assert_eq!(fake.requests().len(), 4);
    }

    #[tokio::test]
    async fn deliveries_are_signed_and_posted() {
        let fake = FakeWhatsApp::start("the-app-secret").await.unwrap();
        let text = fake.text(ANN, "Hi");
        let delivery = fake.delivery(
            &[
                text.clone(),
                fake.image(ANN, Some("The box")),
                fake.reply(ANN, "This one", "wamid.sent"),
            ],
            &[fake.failed("wamid.sent", ANN.0, 131_047, "Re-engagement message")],
        );
        let payload: Value = serde_json::from_slice(&delivery.body).unwrap();
        let value = &payload["entry"][0]["changes"][0]["value"];
        assert_eq!(value["metadata"]["phone_number_id"], PHONE_NUMBER_ID);
        assert_eq!(
            value["contacts"],
            json!([{ "profile": { "name": "Ann Buyer" }, "wa_id": ANN.0 }])
        );
        assert_eq!(value["messages"][1]["image"]["caption"], "The box");
        assert_eq!(value["messages"][2]["context"]["id"], "wamid.sent");
        assert_eq!(value["statuses"][0]["errors"][0]["code"], 131_047);
        let mac = hmac_sha256(b"the-app-secret", &delivery.body);
        assert_eq!(delivery.signature, format!("sha256={}", hex::encode(mac)));

        // Posted as Meta posts it, to a server that echoes the signature.
        let (echo, ()) = Server::start("an echo", |_| {
            let app = Router::new().fallback(|request: Request| async move {
                let signature = request.headers().get("x-hub-signature-256").cloned();
                signature.map_or_else(
                    || "unsigned".to_string(),
                    |s| String::from_utf8_lossy(s.as_bytes()).into_owned(),
                )
            });
            Ok((app, ()))
        })
        .await
        .unwrap();
        let (status, body) = delivery
            .post_to(&format!("{}/hooks/brand", echo.base_url()))
            .await
            .unwrap();
        assert_eq!((status, body), (200, delivery.signature.clone()));
    }

    #[test]
    fn placeholders_cursors_and_chunks() {
        let t = Template::approved(
            "x",
            "en_US",
            "UTILITY",
            "Shop through {{1}}, code {{2}}, {{3}} off ({{2}})",
        );
        assert_eq!(t.placeholders(), 3);
        assert_eq!(Template::approved("x", "en_US", "UTILITY", "Hello").placeholders(), 0);
        assert_eq!(decode_cursor(&encode_cursor(7)), Some(7));
        assert_eq!(decode_cursor("nope"), None);
        assert_eq!(dechunk(b"5\r\nhello\r\n1;x=y\r\n!\r\n0\r\n\r\n").unwrap(), b"hello!");
        assert!(is_version("v21.0") && !is_version("21.0") && !is_version("v21"));
    }
}
