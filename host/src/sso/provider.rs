//! The OpenID provider as seen from here: its discovery document, its keys
//! (JWKS, cached and fetched again when a token names an unknown key), the
//! code exchange, and the checks every token passes: signature, issuer,
//! audience, expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName};
use http::{HeaderMap, HeaderValue, Method, Uri};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OnceCell, RwLock};

use super::SsoError;
use crate::runtime::http::{HttpRequest, NetworkTransport, SendOptions, Transport};

/// Tolerated difference between the provider's clock and ours.
const CLOCK_SKEW_SECS: u64 = 60;
/// An unknown key id fetches the JWKS again at most this often, so tokens
/// naming random keys cannot make us hammer the provider.
const REFETCH_EVERY: Duration = Duration::from_secs(10);
/// Outgoing calls to the provider.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from the provider (discovery, JWKS, tokens).
const MAX_RESPONSE: usize = 1 << 20;
/// Asymmetric algorithms only: a symmetric one would let anyone holding the
/// client secret (or a public key taken for a secret) sign tokens.
const ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What the discovery document says (the parts used here).
#[derive(Debug, Deserialize)]
pub struct Metadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
}

struct Keys {
    set: Arc<JwkSet>,
    fetched: Option<Instant>,
}

pub struct Provider {
    issuer: String,
    metadata: OnceCell<Metadata>,
    keys: RwLock<Keys>,
}

impl Provider {
    pub fn new(issuer: &str) -> Provider {
        Provider {
            issuer: issuer.trim_end_matches('/').to_string(),
            metadata: OnceCell::new(),
            keys: RwLock::new(Keys {
                set: Arc::new(JwkSet { keys: vec![] }),
                fetched: None,
            }),
        }
    }

    /// The discovery document, fetched once; its issuer must be ours exactly.
    pub async fn metadata(&self) -> Result<&Metadata, SsoError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let metadata: Metadata = self.send(Method::GET, &url, None, &[]).await?;
                if metadata.issuer.trim_end_matches('/') != self.issuer {
                    return Err(SsoError::Discovery(format!(
                        "the provider says its issuer is {}, not {}",
                        metadata.issuer, self.issuer
                    )));
                }
                Ok(metadata)
            })
            .await
    }

    /// One request through the host's HTTP client (TLS with the web's
    /// roots). Private addresses are allowed: the operator names the
    /// provider, which often runs on an internal network.
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &str,
        body: Option<String>,
        extra: &[(HeaderName, String)],
    ) -> Result<T, SsoError> {
        let uri: Uri = url.parse().map_err(|e| SsoError::Discovery(format!("{url}: {e}")))?;
        let mut headers = HeaderMap::new();
        let mut set = |name: HeaderName, value: &str| {
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set(header::HOST, uri.authority().map(|a| a.as_str()).unwrap_or_default());
        set(header::ACCEPT, "application/json");
        for (name, value) in extra {
            set(name.clone(), value);
        }
        let request = HttpRequest {
            method,
            uri,
            headers,
            body: body.map(Bytes::from).unwrap_or_default(),
        };
        let options = SendOptions {
            allow_private: true,
            timeout: TIMEOUT,
            max_response_bytes: MAX_RESPONSE,
        };
        let response = NetworkTransport
            .send(request, options)
            .await
            .map_err(|e| SsoError::Http(format!("{url}: {e}")))?;
        if !(200..300).contains(&response.status) {
            let text = String::from_utf8_lossy(&response.body);
            let text: String = text.chars().take(300).collect();
            return Err(SsoError::Refused(format!("{url} answered {}: {text}", response.status)));
        }
        serde_json::from_slice(&response.body).map_err(|e| SsoError::Http(format!("{url}: {e}")))
    }

    /// Exchanges an authorization code (with its PKCE verifier) for the ID
    /// token; the client authenticates with HTTP Basic (`client_secret_basic`).
    pub async fn exchange(
        &self,
        client_id: &str,
        client_secret: &str,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<String, SsoError> {
        #[derive(Deserialize)]
        struct Tokens {
            id_token: String,
        }
        let endpoint = &self.metadata().await?.token_endpoint;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        let extra = [
            (header::CONTENT_TYPE, "application/x-www-form-urlencoded".to_string()),
            (
                header::AUTHORIZATION,
                crate::credentials::client_secret_basic(client_id, client_secret),
            ),
        ];
        let tokens: Tokens = self.send(Method::POST, endpoint, Some(form), &extra).await?;
        Ok(tokens.id_token)
    }

    /// The claims of `token` once its signature (a key of the provider's
    /// JWKS), issuer, audience and expiry hold.
    pub async fn validate<C: DeserializeOwned>(&self, token: &str, audience: &str) -> Result<C, SsoError> {
        let header = jsonwebtoken::decode_header(token).map_err(SsoError::Token)?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(SsoError::Algorithm(format!("{:?}", header.alg)));
        }
        let key = self.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = CLOCK_SKEW_SECS;
        let data = jsonwebtoken::decode::<C>(token, &key, &validation).map_err(SsoError::Token)?;
        Ok(data.claims)
    }

    /// The key `kid` names (the only key when the token names none and the
    /// set holds one), fetching the JWKS again when it is not known yet.
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, SsoError> {
        let cached = self.keys.read().await.set.clone();
        let set = match pick(&cached, kid, alg) {
            Some(_) => cached,
            None => self.refetch().await?,
        };
        let jwk = pick(&set, kid, alg).ok_or(SsoError::UnknownKey)?;
        DecodingKey::from_jwk(jwk).map_err(SsoError::Token)
    }

    async fn refetch(&self) -> Result<Arc<JwkSet>, SsoError> {
        let mut keys = self.keys.write().await;
        if keys.fetched.is_some_and(|at| at.elapsed() < REFETCH_EVERY) {
            return Ok(keys.set.clone());
        }
        let uri = &self.metadata().await?.jwks_uri;
        let set: JwkSet = self.send(Method::GET, uri, None, &[]).await?;
        *keys = Keys {
            set: Arc::new(set),
            fetched: Some(Instant::now()),
        };
        Ok(keys.set.clone())
    }
}

/// A key of `set` fit for `alg`: named by `kid`, or the only one if no kid.
fn pick<'a>(set: &'a JwkSet, kid: Option<&str>, alg: Algorithm) -> Option<&'a jsonwebtoken::jwk::Jwk> {
    let fits = |k: &&jsonwebtoken::jwk::Jwk| {
        k.common
            .key_algorithm
            .is_none_or(|a| format!("{a:?}") == format!("{alg:?}"))
    };
    match kid {
        Some(kid) => set.find(kid).filter(fits),
        None => match set.keys.as_slice() {
            [only] => Some(only).filter(fits),
            _ => None,
        },
    }
}
