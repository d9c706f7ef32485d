//! A channel plugin that misbehaves on purpose, for the host's sandbox tests.
//! The config field `mode` selects the misbehaviour of `poll`.

use std::sync::atomic::{AtomicU32, Ordering};

use socialcrm_sdk::channel::{
    Capabilities, Connector, Descriptor, Header, Outbound, Page, Sent, WebhookRequest, WebhookResponse, WebhookResult,
};
use socialcrm_sdk::http::Request;
use socialcrm_sdk::{Author, Config, ConfigExt, Direction, PluginError, Post, PostKind, kv};

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
            capabilities: Capabilities::POLL,
            config_fields: Vec::new(),
        }
    }

    fn check(_config: Config) -> Result<(), PluginError> {
        Ok(())
    }

    fn poll(config: Config, _state: String) -> Result<Page, PluginError> {
        let calls = CALLS.fetch_add(1, Ordering::SeqCst) + 1;
        match config.require("mode")? {
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
            other => Err(PluginError::InvalidConfig(format!("unknown mode `{other}`"))),
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
