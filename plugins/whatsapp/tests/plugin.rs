//! The plugin as the host runs it: built for wasm32-wasip2, loaded in the real
//! runtime, handed the signed deliveries of `conformance/` and answering
//! canned Cloud API responses in the shapes of Meta's references.

use serde_json::{Value, json};
use socialcrm_sdk::testkit::{
    self, Account, CallError, Canned, Change, ChannelPlugin, ConversationTarget, Harness, MessageBody, PluginError,
    TemplateMessage, WebhookRequest,
};

const GRAPH: &str = "https://graph.facebook.com";
const NUMBER_ID: &str = "106540352242922";
const WABA_ID: &str = "102290129340398";
const TOKEN: &str = "system-user-token";
const MESSAGES: &str = "/v21.0/106540352242922/messages";

fn plugin(harness: &Harness) -> ChannelPlugin {
    harness
        .channel(env!("CARGO_MANIFEST_DIR"))
        .expect("the plugin builds for wasm32-wasip2 and the host loads it")
}

fn account() -> Account {
    testkit::account(
        &[
            ("graph-url", GRAPH),
            ("phone-number-id", NUMBER_ID),
            ("waba-id", WABA_ID),
            ("verify-token", "conformance-verify-token"),
        ],
        &[("access-token", TOKEN), ("app-secret", "conformance-app-secret")],
    )
}

fn plugin_error(err: &CallError) -> &PluginError {
    err.plugin_error()
        .unwrap_or_else(|| panic!("expected the plugin's own error, got: {err}"))
}

/// The recorded webhook call whose body is `file`, signed for [`account`].
fn delivery(file: &str) -> WebhookRequest {
    let fixtures = testkit::fixtures(env!("CARGO_MANIFEST_DIR")).expect("conformance/ loads");
    let body = std::fs::read(format!("{}/conformance/{file}", env!("CARGO_MANIFEST_DIR"))).expect(file);
    let call = fixtures
        .webhooks
        .iter()
        .find(|c| c.request.body == body)
        .unwrap_or_else(|| panic!("no recorded webhook call of {file}"));
    call.signed(&account()).expect("signed")
}

fn window(at: i64) -> String {
    socialcrm_sdk::time::from_unix_seconds(at + 24 * 3600).expect("a time")
}

#[test]
fn check_reads_the_business_number() {
    let harness = Harness::new();
    let path = format!("/v21.0/{NUMBER_ID}");
    harness.respond(
        "GET",
        &path,
        Canned::json(
            200,
            &json!({"display_phone_number": "+1 555-078-3881", "verified_name": "Acme Support", "id": NUMBER_ID}),
        ),
    );
    harness.respond(
        "GET",
        &path,
        Canned::json(
            401,
            &json!({"error": {"message": "Error validating access token: The session has been invalidated.",
                "type": "OAuthException", "code": 190, "error_subcode": 460, "fbtrace_id": "AbC"}}),
        ),
    );
    let plugin = plugin(&harness);
    let out = plugin.check(&account()).expect("a good token checks out");
    assert_eq!(
        out.logs.iter().map(|l| l.message.as_str()).collect::<Vec<_>>(),
        ["the token sends as Acme Support (+1 555-078-3881)"]
    );
    let seen = harness.requests();
    assert_eq!(
        seen[0].url,
        format!("{GRAPH}{path}?fields=display_phone_number%2Cverified_name")
    );
    assert_eq!(seen[0].header("authorization"), Some("Bearer system-user-token"));
    let err = plugin.check(&account()).expect_err("a revoked token");
    assert!(
        matches!(plugin_error(&err), PluginError::Unauthorized(m) if m.contains("code 190/460")),
        "{err}"
    );
}

#[test]
fn deliveries_give_posts_verified_numbers_and_reply_windows() {
    let harness = Harness::new();
    let plugin = plugin(&harness);
    let out = plugin
        .handle_webhook(&account(), &delivery("delivery-media.json"))
        .expect("a signed delivery");
    assert_eq!(out.value.response.status, 200);
    let posts = &out.value.posts;
    let texts: Vec<&str> = posts.iter().map(|p| p.text.as_str()).collect();
    assert_eq!(
        texts,
        ["This is how it arrived", "Yes, a replacement please", "Track my order"]
    );
    assert_eq!(
        posts[1].in_reply_to.as_deref(),
        Some("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI1RjQyNUE3NEYxMzAzMzQ5MkEA")
    );
    assert_eq!(posts[2].author.display_name.as_deref(), Some("Pablo Morales"));
    assert_eq!(posts[2].thread_id.as_deref(), Some("5215512345678"));
    // The numbers are the network's proof, for each customer.
    for wa_id in ["16505551234", "5215512345678"] {
        let mark = (wa_id.to_string(), "phone".to_string(), format!("+{wa_id}"));
        assert!(out.verified.contains(&mark), "{mark:?} in {:?}", out.verified);
    }
    // Each customer's window runs 24 hours from their latest message (the reaction is none).
    let windows: Vec<(&str, &str)> = out
        .changes
        .iter()
        .filter_map(|c| match c {
            Change::ReplyWindow {
                conversation_id,
                open_until,
            } => Some((conversation_id.as_str(), open_until.as_str())),
            _ => None,
        })
        .collect();
    let (ann, pablo) = (window(1_749_416_455), window(1_749_416_501));
    assert_eq!(
        windows,
        [("16505551234", ann.as_str()), ("5215512345678", pablo.as_str())]
    );
    let logs: Vec<&str> = out.logs.iter().map(|l| l.message.as_str()).collect();
    assert!(
        logs.iter().any(|l| l.contains("of type `reaction` skipped")),
        "{logs:?}"
    );

    // Statuses are no posts; a failure is told.
    let out = plugin
        .handle_webhook(&account(), &delivery("delivery-statuses.json"))
        .expect("a signed delivery");
    assert!(out.value.posts.is_empty() && out.changes.is_empty());
    assert!(
        out.logs
            .iter()
            .any(|l| l.message.contains("failed: 131047 Re-engagement message")),
        "{:?}",
        out.logs
    );

    // Unsigned: refused, no posts, no window.
    let mut unsigned = delivery("delivery-text.json");
    unsigned.headers.clear();
    let out = plugin.handle_webhook(&account(), &unsigned).expect("answered");
    assert_eq!(out.value.response.status, 401);
    assert!(out.value.posts.is_empty() && out.changes.is_empty());
    assert!(harness.requests().is_empty(), "deliveries need no request");
}

#[test]
fn messages_go_out_as_text_or_template() {
    let harness = Harness::new();
    let sent = |id: &str| {
        Canned::json(
            200,
            &json!({"messaging_product": "whatsapp", "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
                "messages": [{"id": id}]}),
        )
    };
    harness.respond("POST", MESSAGES, sent("wamid.text"));
    harness.respond("POST", MESSAGES, sent("wamid.template"));
    harness.respond(
        "POST",
        MESSAGES,
        Canned::json(
            400,
            &json!({"error": {"message": "(#131047) Re-engagement message", "type": "OAuthException", "code": 131047,
                "error_data": {"messaging_product": "whatsapp", "details": "Message failed to send because more than 24 hours have passed since the customer last replied to this number."},
                "fbtrace_id": "AbC"}}),
        ),
    );
    let plugin = plugin(&harness);
    let target = ConversationTarget {
        conversation_id: "16505551234".into(),
        recipient: "16505551234".into(),
        in_reply_to: Some("wamid.question".into()),
    };
    let text = MessageBody::Text("It does: blue and green.".into());
    let out = plugin
        .send_message(&account(), &target, &text)
        .expect("messaging is exported")
        .expect("sent");
    assert_eq!(out.value, "wamid.text");
    let template = MessageBody::Template(TemplateMessage {
        name: "order_update".into(),
        language: "en_US".into(),
        parameters: vec!["Ann".into(), "A-1001".into()],
    });
    let out = plugin
        .send_message(&account(), &target, &template)
        .expect("messaging is exported")
        .expect("sent");
    assert_eq!(out.value, "wamid.template");

    let bodies: Vec<Value> = harness
        .requests()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect();
    assert_eq!(
        bodies[0],
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "text",
            "text": {"body": "It does: blue and green."}, "context": {"message_id": "wamid.question"}})
    );
    assert_eq!(
        bodies[1],
        json!({"messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234", "type": "template",
            "template": {"name": "order_update", "language": {"code": "en_US"},
                "components": [{"type": "body", "parameters": [{"type": "text", "text": "Ann"}, {"type": "text", "text": "A-1001"}]}]}})
    );

    let err = plugin
        .send_message(&account(), &target, &text)
        .expect("messaging is exported")
        .expect_err("the window is closed");
    assert!(
        matches!(plugin_error(&err), PluginError::Permanent(m) if m.contains("window is closed") && m.contains("template")),
        "{err}"
    );
}

#[test]
fn templates_are_read_page_by_page() {
    let harness = Harness::new();
    let path = format!("/v21.0/{WABA_ID}/message_templates");
    harness.respond(
        "GET",
        &path,
        Canned::json(
            200,
            &json!({"data": [{"name": "order_update", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
                "id": "1", "components": [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}]}],
                "paging": {"cursors": {"before": "QVFIUb", "after": "QVFIUa"},
                    "next": format!("{GRAPH}/v21.0/{WABA_ID}/message_templates?after=QVFIUa&access_token=leaked")}}),
        ),
    );
    harness.respond(
        "GET",
        &path,
        Canned::json(
            200,
            &json!({"data": [{"name": "hello_world", "language": "en_US", "status": "APPROVED", "category": "UTILITY",
                "id": "2", "components": [{"type": "HEADER", "format": "TEXT", "text": "Hello World"},
                    {"type": "BODY", "text": "Welcome and congratulations!!"}]}],
                "paging": {"cursors": {"before": "QVFIUc", "after": "QVFIUd"}}}),
        ),
    );
    let plugin = plugin(&harness);
    let out = plugin
        .templates(&account())
        .expect("messaging is exported")
        .expect("listed");
    let listed: Vec<(&str, &str, &str, &str)> = out
        .value
        .iter()
        .map(|t| {
            (
                t.name.as_str(),
                t.language.as_str(),
                t.category.as_str(),
                t.body.as_str(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (
                "order_update",
                "en_US",
                "UTILITY",
                "Hi {{1}}, your order {{2}} is on its way."
            ),
            ("hello_world", "en_US", "UTILITY", "Welcome and congratulations!!")
        ]
    );
    let urls: Vec<String> = harness.requests().into_iter().map(|r| r.url).collect();
    assert_eq!(urls.len(), 2);
    assert!(
        urls[0].contains("status=APPROVED") && !urls[0].contains("after="),
        "{urls:?}"
    );
    assert!(
        urls[1].ends_with("&after=QVFIUa") && !urls[1].contains("access_token"),
        "{urls:?}"
    );
}
