//! Single sign-on against a certified OpenID provider (oidc-provider, in
//! tests/oidc) on loopback: the code flow with PKCE into a session, CSRF on
//! the session's state-changing requests, idle and absolute expiry, logout,
//! role mapping, and the provider's JWT access tokens on the API (and the
//! tokens that must fail).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};
use socialcrm::app::App;
use socialcrm::ingest::{Ingest, IngestOptions};
use socialcrm::runtime::{Runtime, RuntimeOptions};
use socialcrm::secrets::SecretBox;
use socialcrm::sso::{Secret, Sso, SsoError, SsoOptions};
use socialcrm::store::Db;
use socialcrm::tokens::{Caller, Role};

/// The provider, stopped when dropped.
struct Idp {
    child: Child,
    issuer: String,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc")
}

/// Starts the provider with `redirect` registered; `None` (skipped) when
/// Node.js is missing outside CI.
fn provider(redirect: &str) -> Option<Idp> {
    let dir = oidc_dir();
    if Command::new("node").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs the single sign-on tests: install Node.js 20+"
        );
        common::skipped("single sign-on against oidc-provider (Node.js is not installed)");
        return None;
    }
    // Once per test binary: the tests run in parallel.
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let installed = INSTALLED.get_or_init(|| {
        dir.join("node_modules").exists()
            || Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund"])
                .current_dir(&dir)
                .status()
                .is_ok_and(|s| s.success())
    });
    assert!(installed, "npm ci in tests/oidc failed");
    let mut child = Command::new("node")
        .arg("provider.mjs")
        .arg(redirect)
        .current_dir(&dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the OpenID provider");
    let mut lines = BufReader::new(child.stdout.take().expect("its stdout")).lines();
    let issuer = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("issuer ").map(str::to_string))
        .expect("the provider says its issuer");
    // Keep reading: a closed pipe would stop the provider at its next line.
    std::thread::spawn(move || lines.for_each(drop));
    Some(Idp { child, issuer })
}

/// socialcrm with single sign-on against a fresh provider.
struct Setup {
    root: String,
    idp: Idp,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Setup {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn options(issuer: &str, root: &str) -> SsoOptions {
    SsoOptions {
        issuer: issuer.to_string(),
        client_id: "socialcrm-web".into(),
        client_secret: Secret::new("web-secret".into()),
        public_url: root.parse().unwrap(),
        provider_name: "Test ID".into(),
        scopes: "openid email groups".into(),
        roles_claim: "groups".into(),
        role_map: vec![
            ("staff".into(), Role::Viewer),
            ("crm-agents".into(), Role::Agent),
            ("crm-admins".into(), Role::Admin),
        ],
        api_audience: "socialcrm".into(),
        idle: Duration::from_secs(3600),
        lifetime: Duration::from_secs(8 * 3600),
    }
}

async fn setup(db: &Db) -> Option<Setup> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let root = format!("http://{}", listener.local_addr().unwrap());
    let idp = provider(&format!("{root}/auth/callback"))?;
    let sso = Sso::new(options(&idp.issuer, &root)).unwrap();
    let sbox = SecretBox::from_key(&[7; 32]).unwrap();
    let runtime = Runtime::new(RuntimeOptions::default()).unwrap();
    let ingest = Ingest::new(db.clone(), sbox, runtime, vec![], IngestOptions::default());
    let router = socialcrm::server::router(App::new(ingest).with_sso(sso));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    Some(Setup { root, idp, task })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A browser's cookies (provider and socialcrm share 127.0.0.1, as in a browser).
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn keep(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(SET_COOKIE) {
            let text = set.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_string(), value.to_string());
            }
        }
    }

    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    async fn get(&mut self, url: &str) -> reqwest::Response {
        let response = client().get(url).header(COOKIE, self.header()).send().await.unwrap();
        self.keep(&response);
        response
    }
}

fn location(response: &reqwest::Response, base: &str) -> String {
    let to = response.headers()[LOCATION].to_str().unwrap();
    reqwest::Url::parse(base).unwrap().join(to).unwrap().to_string()
}

/// Signs `who` in through the provider; the browser's jar and the callback's answer.
async fn sign_in(s: &Setup, who: &str) -> (Jar, reqwest::Response) {
    let mut jar = Jar::default();
    let start = jar.get(&format!("{}/auth/login", s.root)).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let mut url = format!("{}&login_hint={who}", location(&start, &s.root));
    let authorize = reqwest::Url::parse(&url).unwrap();
    let query: BTreeMap<_, _> = authorize.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert!(query.contains_key("state") && query.contains_key("nonce") && query.contains_key("code_challenge"));
    for _ in 0..10 {
        if url.starts_with(&format!("{}/auth/callback", s.root)) {
            let back = jar.get(&url).await;
            return (jar, back);
        }
        let response = jar.get(&url).await;
        assert!(
            response.status().is_redirection(),
            "{url}: {}",
            response.text().await.unwrap()
        );
        url = location(&response, &url);
    }
    panic!("the provider never sent the browser back");
}

fn cookie_attributes(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with(&format!("{name}=")))
        .unwrap_or_default()
}

async fn call(jar: &Jar, method: reqwest::Method, url: &str, csrf: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let mut request = client().request(method, url).header(COOKIE, jar.header());
    if let Some(csrf) = csrf {
        request = request.header("X-CSRF-Token", csrf);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    common::http::answer(request).await
}

async fn sessions(db: &Db) -> Vec<String> {
    sqlx::query_scalar("SELECT hash FROM sessions")
        .fetch_all(db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn sign_in_then_csrf_then_logout() {
    common::on_each_db(|db| async move {
        let Some(s) = setup(&db).await else { return };
        let (jar, back) = sign_in(&s, "alice").await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        assert_eq!(back.headers()[LOCATION], "/", "{:?}", back.headers());
        let set = cookie_attributes(&back, "scrm_session");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/;"] {
            assert!(set.contains(flag), "{set} lacks {flag}");
        }
        assert!(!set.contains("Secure"), "plain-http public URL: no Secure flag ({set})");
        let id = jar.0["scrm_session"].clone();
        let stored = sessions(&db).await;
        assert_eq!(stored.len(), 1);
        assert_ne!(stored[0], id, "only the id's hash is stored");

        let (status, me) = call(&jar, reqwest::Method::GET, &format!("{}/api/v1/me", s.root), None, None).await;
        assert_eq!(
            (status, me),
            (200, json!({ "name": "oidc:alice@example.test", "role": "admin" }))
        );
        let (_, info) = call(
            &jar,
            reqwest::Method::GET,
            &format!("{}/auth/session", s.root),
            None,
            None,
        )
        .await;
        assert_eq!(info["provider"], "Test ID");
        let csrf = info["csrf"].as_str().unwrap().to_string();

        let create = |name: &str| json!({ "name": name, "role": "viewer" });
        let tokens = format!("{}/api/v1/tokens", s.root);
        let (status, body) = call(&jar, reqwest::Method::POST, &tokens, None, Some(create("a"))).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("csrf")), "{body}");
        let (status, _) = call(
            &jar,
            reqwest::Method::POST,
            &tokens,
            Some("0".repeat(64).as_str()),
            Some(create("a")),
        )
        .await;
        assert_eq!(status, 403, "a wrong CSRF token is refused");
        let (status, body) = call(&jar, reqwest::Method::POST, &tokens, Some(&csrf), Some(create("a"))).await;
        assert_eq!(status, 201, "{body}");
        let (_, list) = call(&jar, reqwest::Method::GET, &tokens, None, None).await;
        let made = list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["name"] == "a")
            .unwrap()
            .clone();
        assert_eq!(
            made["created_by"], "oidc:alice@example.test",
            "the audit names the person"
        );

        let mut planted = Jar::default();
        planted.0.insert("scrm_session".into(), "planted-by-someone".into());
        let (status, _) = call(
            &planted,
            reqwest::Method::GET,
            &format!("{}/api/v1/me", s.root),
            None,
            None,
        )
        .await;
        assert_eq!(status, 401, "an id the server did not issue opens nothing");

        let logout = format!("{}/auth/logout", s.root);
        let (status, _) = call(&jar, reqwest::Method::POST, &logout, None, None).await;
        assert_eq!(status, 403, "logout with the cookie needs the CSRF token too");
        let (status, _) = call(&jar, reqwest::Method::POST, &logout, Some(&csrf), None).await;
        assert_eq!(status, 204);
        assert!(sessions(&db).await.is_empty(), "logout deletes the session");
        let (status, _) = call(&jar, reqwest::Method::GET, &format!("{}/api/v1/me", s.root), None, None).await;
        assert_eq!(status, 401, "the old cookie is worth nothing");
        drop(s);
    })
    .await;
}

#[tokio::test]
async fn a_person_whose_groups_map_to_no_role_is_refused() {
    common::on_each_db(|db| async move {
        let Some(s) = setup(&db).await else { return };
        let (_, back) = sign_in(&s, "mallory").await;
        assert_eq!(back.status(), StatusCode::FORBIDDEN);
        let body: Value = back.json().await.unwrap();
        assert_eq!(body["error"]["code"], "forbidden", "{body}");
        assert!(sessions(&db).await.is_empty(), "no session is created");

        // bob's groups claim is a string, not a list.
        let (jar, back) = sign_in(&s, "bob").await;
        assert_eq!(back.status(), StatusCode::SEE_OTHER);
        let (status, me) = call(&jar, reqwest::Method::GET, &format!("{}/api/v1/me", s.root), None, None).await;
        assert_eq!((status, me["role"].as_str()), (200, Some("agent")));
    })
    .await;
}

#[tokio::test]
async fn a_callback_without_this_browsers_sign_in_is_refused() {
    common::on_each_db(|db| async move {
        let Some(s) = setup(&db).await else { return };
        let (status, body) =
            common::http::answer(client().get(format!("{}/auth/callback?code=x&state=y", s.root))).await;
        assert_eq!(status, 400, "{body}");
        let mut jar = Jar::default();
        jar.get(&format!("{}/auth/login", s.root)).await;
        let back = jar.get(&format!("{}/auth/callback?code=x&state=forged", s.root)).await;
        assert_eq!(
            back.status(),
            StatusCode::BAD_REQUEST,
            "a state other than the browser's is refused"
        );
        assert!(sessions(&db).await.is_empty());
    })
    .await;
}

/// A token signed with the provider's key, claims as given.
async fn mint(s: &Setup, claims: Value) -> String {
    let response = client()
        .post(format!("{}/test/mint", s.idp.issuer))
        .body(claims.to_string())
        .send()
        .await
        .unwrap();
    response.text().await.unwrap()
}

async fn me_with(s: &Setup, token: &str) -> (u16, Value) {
    common::http::answer(client().get(format!("{}/api/v1/me", s.root)).bearer_auth(token)).await
}

#[tokio::test]
async fn the_api_takes_the_providers_access_tokens_and_refuses_bad_ones() {
    common::on_each_db(|db| async move {
        let Some(s) = setup(&db).await else { return };
        let issued: Value = client()
            .post(format!("{}/token", s.idp.issuer))
            .basic_auth("machine", Some("machine-secret"))
            .form(&[("grant_type", "client_credentials"), ("scope", "api")])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let access = issued["access_token"].as_str().unwrap();
        assert_eq!(access.matches('.').count(), 2, "a JWT: {issued}");
        let (status, me) = me_with(&s, access).await;
        assert_eq!((status, me), (200, json!({ "name": "oidc:machine", "role": "agent" })));
        // A bearer token needs no CSRF token.
        let (status, body) = common::http::answer(
            client().post(format!("{}/api/v1/tokens", s.root)).bearer_auth(access).json(&json!({"name": "x", "role": "viewer"})),
        )
        .await;
        assert_eq!(status, 403, "an agent cannot make tokens: {body}");

        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let claims = |aud: &str, exp: i64, groups: Value| {
            json!({ "iss": s.idp.issuer, "sub": "carol", "email": "carol@example.test", "aud": aud, "iat": now, "exp": exp, "groups": groups })
        };
        let good = mint(&s, claims("socialcrm", now + 300, json!(["staff"]))).await;
        let (status, me) = me_with(&s, &good).await;
        assert_eq!((status, me["name"].as_str()), (200, Some("oidc:carol@example.test")), "the minted control token passes");

        let (status, body) = me_with(&s, &mint(&s, claims("another-api", now + 300, json!(["staff"]))).await).await;
        assert_eq!(status, 401, "wrong audience: {body}");
        let (status, _) = me_with(&s, &mint(&s, claims("socialcrm-web", now + 300, json!(["staff"]))).await).await;
        assert_eq!(status, 401, "an ID token's audience (the web client) is not the API's");
        let (status, body) = me_with(&s, &mint(&s, claims("socialcrm", now - 600, json!(["staff"]))).await).await;
        assert_eq!(status, 401, "expired: {body}");
        let mut wrong_issuer = claims("socialcrm", now + 300, json!(["staff"]));
        wrong_issuer["iss"] = json!("https://elsewhere.example");
        let (status, _) = me_with(&s, &mint(&s, wrong_issuer).await).await;
        assert_eq!(status, 401, "wrong issuer");

        let (head, signature) = good.rsplit_once('.').unwrap();
        let mut bytes = signature.as_bytes().to_vec();
        bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
        let tampered = format!("{head}.{}", String::from_utf8(bytes).unwrap());
        let (status, body) = me_with(&s, &tampered).await;
        assert_eq!(status, 401, "tampered signature: {body}");
        let (header, payload) = head.split_once('.').unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut raised: Value = serde_json::from_slice(&b64.decode(payload).unwrap()).unwrap();
        raised["groups"] = json!(["crm-admins"]);
        let forged = format!("{header}.{}.{signature}", b64.encode(raised.to_string()));
        let (status, _) = me_with(&s, &forged).await;
        assert_eq!(status, 401, "claims changed under a valid signature");
        let unsigned = format!("{}.{payload}.", b64.encode(r#"{"alg":"none","typ":"JWT"}"#));
        let (status, _) = me_with(&s, &unsigned).await;
        assert_eq!(status, 401, "alg none");

        let (status, body) = me_with(&s, &mint(&s, claims("socialcrm", now + 300, json!(["marketing"]))).await).await;
        assert_eq!((status, body["error"]["code"].as_str()), (403, Some("forbidden")), "no mapped group: {body}");

        // ID tokens: the web client's audience and this sign-in's nonce.
        let sso = Sso::new(options(&s.idp.issuer, &s.root)).unwrap();
        let mut id_claims = claims("socialcrm-web", now + 300, json!(["staff"]));
        id_claims["nonce"] = json!("n-1");
        let id_token = mint(&s, id_claims).await;
        let (person, role) = sso.id_token(&id_token, "n-1").await.unwrap();
        assert_eq!((person.actor().as_str(), role), ("oidc:carol@example.test", Some(Role::Viewer)));
        assert!(matches!(sso.id_token(&id_token, "n-2").await, Err(SsoError::Nonce)), "another sign-in's nonce");
        assert!(sso.id_token(&good, "n-1").await.is_err(), "an API token is not an ID token");

        // Opaque tokens keep working beside.
        let token = socialcrm::tokens::create(&db, "ci", Role::Viewer, "test").await.unwrap();
        let (status, me) = me_with(&s, &token).await;
        assert_eq!((status, me["name"].as_str()), (200, Some("ci")));
    })
    .await;
}

/// Moves every session's `column` `ms` into the past.
async fn age(db: &Db, column: &str, ms: i64) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sessions SET {column} = {column} - $1"
    )))
    .bind(ms)
    .execute(db.pool())
    .await
    .unwrap();
}

#[tokio::test]
async fn a_session_ends_after_its_idle_time_and_its_lifetime() {
    common::on_each_db(|db| async move {
        // Sessions need no provider: nothing here leaves the process.
        let sso = Sso::new(options("https://idp.invalid", "http://127.0.0.1:9")).unwrap();
        let (idle, lifetime) = (3_600_000, 8 * 3_600_000);
        let caller = Caller {
            name: "oidc:dana@example.test".into(),
            role: Role::Agent,
        };
        let (id, _) = sso.start_session(&db, &caller).await.unwrap();
        let live = |id: String| {
            let (sso, db) = (&sso, &db);
            async move { sso.session(db, &id).await.unwrap().map(|s| s.caller) }
        };
        assert_eq!(live(id.clone()).await, Some(caller.clone()));
        // Idle time slides: each use within it (recorded at most every 30 s) starts it again.
        age(&db, "last_seen_at", idle - 60_000).await;
        assert!(live(id.clone()).await.is_some(), "used a minute before going idle");
        age(&db, "last_seen_at", idle - 60_000).await;
        assert!(live(id.clone()).await.is_some(), "the last use counts, not the sign-in");
        age(&db, "last_seen_at", idle + 1_000).await;
        assert_eq!(live(id).await, None, "idle for longer than an hour");

        // The lifetime does not slide: in use, but signed in 8 hours ago.
        let (id, _) = sso.start_session(&db, &caller).await.unwrap();
        let expires: i64 = sqlx::query_scalar("SELECT MAX(expires_at) FROM sessions")
            .fetch_one(db.pool())
            .await
            .unwrap();
        let until = expires - socialcrm::store::now_ms();
        assert!(
            (lifetime - 60_000..=lifetime).contains(&until),
            "expires {until} ms after sign-in"
        );
        age(&db, "expires_at", until - 30_000).await;
        assert!(live(id.clone()).await.is_some(), "30 s before the end");
        age(&db, "expires_at", 31_000).await;
        assert_eq!(live(id).await, None, "past its lifetime, however recently used");
    })
    .await;
}
