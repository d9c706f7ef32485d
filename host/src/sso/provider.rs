//! The OpenID provider as seen from here: its discovery document, its keys
//! (JWKS, cached and fetched again when a token names an unknown key), the
//! code exchange, and the checks every token passes: signature, issuer,
//! audience, expiry.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OnceCell, RwLock};

use super::SsoError;

/// Tolerated difference between the provider's clock and ours.
const CLOCK_SKEW_SECS: u64 = 60;
/// An unknown key id fetches the JWKS again at most this often, so tokens
/// naming random keys cannot make us hammer the provider.
const REFETCH_EVERY: Duration = Duration::from_secs(10);
/// Outgoing calls to the provider.
const TIMEOUT: Duration = Duration::from_secs(10);
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
    http: reqwest::Client,
    metadata: OnceCell<Metadata>,
    keys: RwLock<Keys>,
}

impl Provider {
    pub fn new(issuer: &str) -> Result<Provider, SsoError> {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| SsoError::Config(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls)
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(SsoError::Http)?;
        Ok(Provider {
            issuer: issuer.trim_end_matches('/').to_string(),
            http,
            metadata: OnceCell::new(),
            keys: RwLock::new(Keys {
                set: Arc::new(JwkSet { keys: vec![] }),
                fetched: None,
            }),
        })
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The discovery document, fetched once; its issuer must be ours exactly.
    pub async fn metadata(&self) -> Result<&Metadata, SsoError> {
        self.metadata
            .get_or_try_init(|| async {
                let url = format!("{}/.well-known/openid-configuration", self.issuer);
                let metadata: Metadata = self.get_json(&url).await?;
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

    async fn get_json<T: DeserializeOwned>(&self, url: &str) -> Result<T, SsoError> {
        let response = self.http.get(url).send().await.map_err(SsoError::Http)?;
        if !response.status().is_success() {
            return Err(SsoError::Discovery(format!("{url} answered {}", response.status())));
        }
        response.json().await.map_err(SsoError::Http)
    }

    /// Exchanges an authorization code (with its PKCE verifier) for the ID token.
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
        let response = self
            .http
            .post(endpoint)
            .basic_auth(client_id, Some(client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ])
            .send()
            .await
            .map_err(SsoError::Http)?;
        if !response.status().is_success() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(SsoError::Exchange(format!("{status}: {}", body.chars().take(300).collect::<String>())));
        }
        Ok(response.json::<Tokens>().await.map_err(SsoError::Http)?.id_token)
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
        let set: JwkSet = self.get_json(uri).await?;
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
