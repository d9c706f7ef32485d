//! WhatsApp Business (plugins/whatsapp) against the fake Cloud API: signed
//! webhook deliveries become a conversation per customer with its reply
//! window; the host answers inside the window with free text, refuses free
//! text after it (before anything reaches the network) and sends approved
//! templates instead (docs/conversations.md).

mod common;

use reqwest::Method;
use serde_json::{Value, json};
use socialcrm::channels::{self, NewChannel};
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::replies::{self, ReplyError};
use socialcrm::runtime::types::{Header, WebhookRequest};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::store::Db;
use socialcrm::tokens::{self, Role};
use socialcrm_fakes::whatsapp::{self, Delivery, FakeWhatsApp, Template};

const APP_SECRET: &str = "whatsapp-app-secret";
const ANN: (&str, &str) = ("15551234567", "Ann Buyer");
const BOB: (&str, &str) = ("447700900123", "Bob Shopper");

/// The channel `wa` of the plugin at `plugin`, talking to `network`.
async fn channel(db: &Db, runtime: &Runtime, plugin: &str, network: &FakeWhatsApp) -> Ingest {
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let ingest = Ingest::new(
        db.clone(),
        sbox.clone(),
        runtime.clone(),
        vec![],
        IngestOptions::default(),
    );
    let base = network.base_url();
    let channel = NewChannel {
        name: "wa".into(),
        plugin: plugin.to_string(),
        config: common::map(&[
            ("graph-url", base.as_str()),
            ("phone-number-id", whatsapp::PHONE_NUMBER_ID),
            ("waba-id", whatsapp::WABA_ID),
            ("verify-token", "a-verify-token-of-16+"),
        ]),
        secrets: common::map(&[("access-token", whatsapp::TOKEN), ("app-secret", APP_SECRET)]),
        allow_private: true,
    };
    channels::add(db, &sbox, &ingest, channel).await.unwrap();
    ingest
}

/// Hands `delivery` to the channel's webhook as Meta POSTs it: the status.
async fn push(ingest: &Ingest, delivery: Delivery) -> u16 {
    let request = WebhookRequest {
        method: "POST".into(),
        path: String::new(),
        query: String::new(),
        headers: vec![Header {
            name: "x-hub-signature-256".into(),
            value: delivery.signature.into_bytes(),
        }],
        body: delivery.body,
    };
    let endpoint = ingest.webhook_endpoint("wa").await.unwrap();
    ingest.webhook(endpoint, request).await.unwrap().status
}

/// The stored post with network id `external_id`.
async fn post_id(db: &Db, external_id: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM posts WHERE external_id = $1")
        .bind(external_id)
        .fetch_one(db.pool())
        .await
        .unwrap()
}

async fn window(db: &Db, conversation: &str) -> Option<i64> {
    sqlx::query_scalar("SELECT open_until FROM conversation_windows WHERE conversation_id = $1")
        .bind(conversation)
        .fetch_optional(db.pool())
        .await
        .unwrap()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test(flavor = "multi_thread")]
async fn messages_become_conversations_with_their_reply_window() {
    let dir = common::plugin_dir("plugins/whatsapp");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeWhatsApp::start(APP_SECRET).await.unwrap();
        let ingest = channel(&db, runtime, plugin, &network).await;
        let crm = "id,name,phone\nC1,Ann Buyer,+1 (555) 123-4567\nC2,Carl Other,+44 7700 900999\n";
        socialcrm::crm::import::contacts(&db, crm.as_bytes(), &|_| {})
            .await
            .unwrap();

        // Forged: signed with another secret. Nothing stored.
        let hello = network.text(ANN, "Hello, where is order 1042?");
        let mut forged = network.delivery(std::slice::from_ref(&hello), &[]);
        forged.signature = format!("sha256={}", "0".repeat(64));
        assert_ne!(push(&ingest, forged).await, 200);
        assert_eq!(common::count(&db, "posts").await, 0);
        assert_eq!(common::count(&db, "conversation_windows").await, 0);

        // Ann writes now, Bob wrote two days ago; a status is not a post.
        let day = 24 * 3600;
        let old = network.text_at(
            BOB,
            "Is the X2 waterproof? Call me on +44 7700 900999",
            now_secs() - 2 * day,
        );
        let status = network.status("wamid.earlier", ANN.0, "delivered");
        assert_eq!(
            push(&ingest, network.delivery(&[hello.clone(), old.clone()], &[status])).await,
            200
        );
        assert_eq!(common::count(&db, "posts").await, 2);
        let (kind, thread, handle): (String, String, String) = sqlx::query_as(
            "SELECT p.kind, p.thread_id, i.handle FROM posts p JOIN identities i ON i.id = p.identity_id \
             WHERE p.external_id = $1",
        )
        .bind(hello["id"].as_str().unwrap())
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            (kind.as_str(), thread.as_str(), handle.as_str()),
            ("direct-message", ANN.0, ANN.0)
        );

        // The number WhatsApp delivers from is the network's: Ann is linked to
        // the contact with it. A number Bob writes is his claim: proposed only.
        let links = socialcrm::crm::identity::links(&db, None, 100).await.unwrap();
        let link = |handle: &str| {
            links
                .iter()
                .find(|l| l.handle == handle)
                .map(|l| (l.contact_external_id.as_str(), l.status.as_str()))
        };
        assert_eq!(link(ANN.0), Some(("C1", "confirmed")), "{links:?}");
        assert_eq!(link(BOB.0), Some(("C2", "proposed")), "{links:?}");

        // Each conversation's window ends a day after its customer's message.
        let ann = window(&db, ANN.0).await.unwrap();
        let bob = window(&db, BOB.0).await.unwrap();
        let hello_at = hello["timestamp"].as_str().unwrap().parse::<i64>().unwrap() * 1000;
        assert_eq!(ann, hello_at + day as i64 * 1000);
        assert!(bob < socialcrm::store::now_ms(), "Bob's window closed a day ago");

        // An older message delivered late never closes a window a newer one opened.
        let late = network.text_at(ANN, "(sent yesterday)", now_secs() - day);
        assert_eq!(push(&ingest, network.delivery(&[late], &[])).await, 200);
        assert_eq!(window(&db, ANN.0).await, Some(ann));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn replies_go_to_the_conversation_as_text_inside_the_window_and_as_templates_after_it() {
    let dir = common::plugin_dir("plugins/whatsapp");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeWhatsApp::start(APP_SECRET).await.unwrap();
        network.add_template(Template::approved(
            "shipping_notice",
            "en_US",
            "UTILITY",
            "Hi {{1}}, your order {{2}} has shipped.",
        ));
        let ingest = channel(&db, runtime, plugin, &network).await;
        let day = 24 * 3600;
        let hello = network.text(ANN, "Where is order 1042?");
        let old = network.text_at(BOB, "Is the X2 waterproof?", now_secs() - 2 * day);
        assert_eq!(
            push(&ingest, network.delivery(&[hello.clone(), old.clone()], &[])).await,
            200
        );
        let (ann_post, bob_post) = (
            post_id(&db, hello["id"].as_str().unwrap()).await,
            post_id(&db, old["id"].as_str().unwrap()).await,
        );

        let server = common::http::start_with(ingest.clone()).await;
        let client = reqwest::Client::new();
        let agent = tokens::create(&db, "agent", Role::Agent, "test").await.unwrap();
        let call = |method: Method, path: &str, body: Option<Value>| {
            let mut request = client.request(method, server.api(path)).bearer_auth(&agent);
            if let Some(body) = body {
                request = request.json(&body);
            }
            common::http::answer(request)
        };

        // Inside Ann's window: free text, to her, quoting her message.
        let (status, reply) = call(
            Method::POST,
            &format!("/posts/{ann_post}/replies"),
            Some(json!({"text": "It ships today!"})),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("sent")), "{reply}");
        let sent = network.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!((sent[0].to.as_str(), sent[0].kind.as_str()), (ANN.0, "text"));
        assert_eq!(sent[0].text, "It ships today!");
        assert_eq!(sent[0].context.as_deref(), hello["id"].as_str());
        assert_eq!(reply["external_id"].as_str(), Some(sent[0].id.as_str()));

        // Bob's window closed: free text is refused before anything is stored or sent.
        let (status, body) = call(
            Method::POST,
            &format!("/posts/{bob_post}/replies"),
            Some(json!({"text": "Yes, IPX7."})),
        )
        .await;
        assert_eq!(status, 409, "{body}");
        assert!(body.to_string().contains("template"), "{body}");
        assert_eq!(network.sent().len(), 1);
        assert_eq!(replies::list(&db, Some(bob_post), 10).await.unwrap().len(), 0);

        // A reply queued while the window was open and sent after it closed
        // (an approval that took too long) fails with the reason, unsent.
        let queued = replies::queue(&db, bob_post, "Yes, IPX7.", None, "agent")
            .await
            .unwrap();
        let failed = replies::send(&ingest, queued.id, "agent").await.unwrap();
        assert_eq!(failed.status, "failed");
        assert!(
            failed.error.as_deref().unwrap_or_default().contains("window"),
            "{failed:?}"
        );
        assert_eq!(network.sent().len(), 1);

        // The approved templates, and one sent to Bob after his window.
        let (status, listed) = call(Method::GET, "/channels/wa/templates", None).await;
        assert_eq!(status, 200, "{listed}");
        let items = listed["items"].as_array().unwrap();
        let shipping_notice = items.iter().find(|t| t["name"] == "shipping_notice").unwrap();
        assert_eq!(shipping_notice["body"], "Hi {{1}}, your order {{2}} has shipped.");
        assert_eq!(shipping_notice["category"], "UTILITY");
        let template = json!({"name": "shipping_notice", "language": "en_US", "parameters": ["Bob", "1042"]});
        let (status, reply) = call(
            Method::POST,
            &format!("/posts/{bob_post}/template-replies"),
            Some(template),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("sent")), "{reply}");
        assert_eq!(reply["template"]["name"], "shipping_notice");
        let sent = network.sent();
        assert_eq!(sent.len(), 2);
        assert_eq!((sent[1].to.as_str(), sent[1].kind.as_str()), (BOB.0, "template"));
        assert_eq!(sent[1].text, "Hi Bob, your order 1042 has shipped.");

        // A template the network does not know fails as the network says.
        let unknown = json!({"name": "no_such_template", "language": "en_US"});
        let (status, reply) = call(
            Method::POST,
            &format!("/posts/{bob_post}/template-replies"),
            Some(unknown),
        )
        .await;
        assert_eq!((status, reply["status"].as_str()), (201, Some("failed")), "{reply}");
        assert_eq!(network.sent().len(), 2);

        // Unknown posts and channels are 404.
        let (status, _) = call(Method::GET, "/channels/nope/templates", None).await;
        assert_eq!(status, 404);
        let body = json!({"name": "shipping_notice", "language": "en_US"});
        let (status, _) = call(Method::POST, "/posts/999999/template-replies", Some(body)).await;
        assert_eq!(status, 404);
        assert!(matches!(
            replies::check_route(&ingest, bob_post, false).await,
            Err(ReplyError::WindowClosed(_))
        ));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttled_failing_or_refused_send_is_recorded_and_retried_without_a_second_message() {
    let dir = common::plugin_dir("plugins/whatsapp");
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let (runtime, plugin) = (&runtime, &dir.path().display().to_string());
    common::on_each_db(move |db| async move {
        let network = FakeWhatsApp::start(APP_SECRET).await.unwrap();
        let ingest = channel(&db, runtime, plugin, &network).await;
        let hello = network.text(ANN, "Hi, my parcel is late");
        assert_eq!(
            push(&ingest, network.delivery(std::slice::from_ref(&hello), &[])).await,
            200
        );
        let post = post_id(&db, hello["id"].as_str().unwrap()).await;
        let reply = replies::queue(&db, post, "Sorry! Checking now.", None, "agent")
            .await
            .unwrap();

        // Throttled (130429 as a 429), then a 500: each attempt fails with
        // the network's reason and sends nothing.
        network.fail_next(whatsapp::Fault::Throttled {
            code: 130429,
            retry_after_secs: Some(3),
        });
        let failed = replies::send(&ingest, reply.id, "agent").await.unwrap();
        let error = failed.error.unwrap_or_default();
        assert_eq!(failed.status, "failed");
        assert!(error.contains("rate limited for 3000 ms"), "{error}");
        network.fail_next(whatsapp::Fault::Status(500));
        let failed = replies::send(&ingest, reply.id, "agent").await.unwrap();
        assert!(failed.error.unwrap_or_default().contains("transient"));
        assert!(network.sent().is_empty());

        // Retried: sent once.
        let sent = replies::send(&ingest, reply.id, "agent").await.unwrap();
        assert_eq!((sent.status.as_str(), sent.attempts), ("sent", 3));
        assert_eq!(network.sent().len(), 1);

        // A revoked token: refused as unauthorized, nothing sent.
        network.revoke_token();
        let again = replies::queue(&db, post, "One more thing", None, "agent")
            .await
            .unwrap();
        let refused = replies::send(&ingest, again.id, "agent").await.unwrap();
        assert_eq!(refused.status, "failed");
        assert!(refused.error.unwrap_or_default().contains("unauthorized"));
        assert_eq!(network.sent().len(), 1);
    })
    .await;
}
