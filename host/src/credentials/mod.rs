//! Host-managed token lifecycles (docs/security.md): a credential whose
//! manifest rule carries `refresh` is renewed by the host a margin before it
//! expires, and once after a call fails as unauthorized. The refresh request
//! obeys the account's network policy (an allowed origin, no private address
//! unless the account allows it) and is in the egress log; the new values are
//! sealed with the account's other secrets. The plugin never sees any of them.

mod flow;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

pub use flow::client_secret_basic;
use flow::{Failure, Grant};

use crate::plugins::Manifest;
use crate::runtime::http::{AllowedOrigin, SendOptions, TransportError};
use crate::runtime::{Account, Credential, EgressCall, Refresh, RequestRecord, Runtime, redact};
use crate::secrets::SecretBox;
use crate::store::accounts::{self, AccountError, StoredAccount};
use crate::store::{Db, credentials as store, now_ms};

/// A token is refreshed when a tenth of its lifetime is left, and at least
/// this long (ms) before it expires: minutes for an hour's token, days for
/// Threads' 60 days, so a sync every few hours never finds it expired.
const MARGIN_MS: i64 = 5 * 60_000;
const MARGIN_SHARE: i64 = 10;
const TIMEOUT: Duration = Duration::from_secs(30);
/// Token answers are a few hundred bytes.
const MAX_RESPONSE_BYTES: usize = 64 << 10;
/// The function refresh requests are logged under in the egress log.
pub const EGRESS_FUNCTION: &str = "refresh-token";

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Only a new authorization helps: the account is paused.
    #[error("the network refused to refresh the token: {0}; re-authorize the account")]
    Refused(String),
    /// Worth trying again later.
    #[error("the token could not be refreshed: {0}")]
    Failed(String),
    #[error(transparent)]
    Account(#[from] AccountError),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
}

/// When a token is refreshed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    /// Within the margin of its known expiry.
    Due,
    /// Now: a call failed as unauthorized.
    Now,
}

/// A Threads token entered by hand is taken as expiring this long (ms)
/// after it is entered, so that it is first refreshed within two days: the
/// network tells a token's expiry only when it renews it, refuses to renew
/// a token under a day old, and cannot renew one that expired.
const THREADS_FIRST_DUE_MS: i64 = 2 * 24 * 3_600_000;

/// Records, in the transaction that adds account `channel_id`, when its
/// hand-entered tokens are first due where the network cannot tell.
pub async fn entered(conn: &mut sqlx::AnyConnection, manifest: &Manifest, channel_id: i64) -> Result<(), sqlx::Error> {
    for rule in manifest.credential_rules() {
        if let (Some(Refresh::ThreadsLongLived { .. }), Credential::Bearer { secret }) =
            (&rule.refresh, &rule.credential)
        {
            // One clock reading: the lifetime is exactly the first-due delay.
            let now = now_ms();
            store::entered(conn, channel_id, secret, now, now.saturating_add(THREADS_FIRST_DUE_MS)).await?;
        }
    }
    Ok(())
}

/// Whether a token stored at `stored_at` that expires at `expires_at` is
/// to be refreshed at `now` (all Unix ms).
fn due(expires_at: i64, stored_at: i64, now: i64) -> bool {
    let lifetime = expires_at.saturating_sub(stored_at).max(0);
    let margin = (lifetime / MARGIN_SHARE).max(MARGIN_MS);
    expires_at.saturating_sub(margin) <= now
}

/// What a refresh needs of the host.
pub struct Refresher<'a> {
    pub db: &'a Db,
    pub sbox: &'a SecretBox,
    pub runtime: &'a Runtime,
}

impl Refresher<'_> {
    /// Refreshes the tokens of `stored` that `when` makes due. Returns the
    /// account as stored afterwards when a token changed (here, or by
    /// another node since `stored` was read); `None` when none did.
    pub async fn refresh(
        &self,
        manifest: &Manifest,
        stored: &StoredAccount,
        when: When,
    ) -> Result<Option<StoredAccount>, RefreshError> {
        let name = &stored.account.name;
        let mut changed = false;
        for rule in manifest.credential_rules() {
            let (Some(refresh), Credential::Bearer { secret }) = (&rule.refresh, &rule.credential) else {
                continue;
            };
            let Some(sealed) = store::sealed(self.db, stored.id).await? else {
                continue;
            };
            let current = self.sbox.open(&sealed, name).map_err(AccountError::from)?;
            // Renewed since `stored` was read: that token is the fresh one.
            if current.get(secret) != stored.account.secrets.get(secret) {
                changed = true;
                continue;
            }
            let values = values(&stored.account.config, &current);
            if !flow::ready(refresh, &values) {
                continue;
            }
            let due = match when {
                When::Now => true,
                When::Due => store::expiry(self.db, stored.id, secret)
                    .await?
                    .is_some_and(|(expires_at, stored_at)| due(expires_at, stored_at, now_ms())),
            };
            if !due {
                continue;
            }
            let grant = match self.send(manifest, &stored.account, refresh, secret, &values).await {
                Ok(grant) => grant,
                Err(Failure::Refused(why)) => {
                    // A rotated refresh token is spent by the first node that
                    // uses it: when the secrets changed meanwhile, that node won.
                    if store::sealed(self.db, stored.id).await?.as_deref() != Some(sealed.as_str()) {
                        changed = true;
                        continue;
                    }
                    return Err(RefreshError::Refused(redact(&why, &current).into_owned()));
                }
                Err(Failure::Failed(why)) => return Err(RefreshError::Failed(redact(&why, &current).into_owned())),
            };
            let expires_at = grant
                .expires_in
                .map(|secs| now_ms().saturating_add(i64::try_from(secs.saturating_mul(1000)).unwrap_or(i64::MAX)));
            let renewed = renewed(&current, refresh, secret, grant);
            // False: an admin or another node stored other secrets meanwhile; theirs stay.
            store::store_refreshed(
                self.db,
                stored.id,
                &sealed,
                &self.sbox.seal(&renewed, name),
                secret,
                expires_at,
            )
            .await?;
            tracing::info!(channel = %name, secret = %secret, "token refreshed");
            changed = true;
        }
        if !changed {
            return Ok(None);
        }
        Ok(Some(accounts::load(self.db, self.sbox, name).await?))
    }

    /// Sends the refresh request through the runtime's transport under the
    /// account's policy, and records it in the egress log.
    async fn send(
        &self,
        manifest: &Manifest,
        account: &Account,
        refresh: &Refresh,
        secret: &str,
        values: &BTreeMap<String, String>,
    ) -> Result<Grant, Failure> {
        // Validated at load; a manifest that still fails here is not refreshed.
        let (pattern, path) = refresh
            .endpoint(&manifest.allowed_hosts)
            .ok_or_else(|| Failure::Failed("the token URL is not at an allowed host".into()))?;
        let origin = AllowedOrigin::expand(pattern, &account.config).map_err(|e| Failure::Failed(e.to_string()))?;
        let access_token = values.get(secret).map(String::as_str).unwrap_or_default();
        let request =
            flow::request(refresh, &format!("{origin}{path}"), access_token, values).map_err(Failure::Failed)?;
        let mut record = RequestRecord {
            method: request.method.to_string(),
            scheme: request.uri.scheme_str().unwrap_or("https").to_string(),
            host: request.uri.host().unwrap_or_default().to_string(),
            port: request.uri.port_u16().unwrap_or(443),
            // The path only: Threads' query carries the token.
            path: request.uri.path().to_string(),
            status: None,
            request_bytes: request.body.len(),
            response_bytes: 0,
            duration: Duration::ZERO,
            refused: None,
            error: None,
        };
        let options = SendOptions {
            allow_private: account.allow_private,
            timeout: TIMEOUT,
            max_response_bytes: MAX_RESPONSE_BYTES,
        };
        let start = Instant::now();
        let sent = self.runtime.transport().send(request, options).await;
        record.duration = start.elapsed();
        match &sent {
            Ok(response) => {
                record.status = Some(response.status);
                record.response_bytes = response.body.len();
            }
            Err(TransportError::Refused(why)) => record.refused = Some(why.clone()),
            Err(e) => record.error = Some(e.to_string()),
        }
        self.runtime.record_egress(EgressCall {
            plugin: manifest.name.clone(),
            version: manifest.version.to_string(),
            account: Some(account.name.clone()),
            function: EGRESS_FUNCTION,
            requests: vec![record],
        });
        let response = sent.map_err(|e| Failure::Failed(e.to_string()))?;
        flow::grant(response.status, &response.body)
    }
}

/// The account's config and secrets in one map (a client id may be either).
fn values(config: &BTreeMap<String, String>, secrets: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    let mut values = config.clone();
    values.extend(secrets.iter().map(|(k, v)| (k.clone(), v.clone())));
    values
}

/// `secrets` with the grant's access token, and its rotated refresh token.
fn renewed(
    secrets: &BTreeMap<String, String>,
    refresh: &Refresh,
    secret: &str,
    grant: Grant,
) -> BTreeMap<String, String> {
    let mut next = secrets.clone();
    next.insert(secret.to_string(), grant.access_token);
    if let (Refresh::Oauth2 { refresh_token, .. }, Some(rotated)) = (refresh, grant.refresh_token) {
        next.insert(refresh_token.clone(), rotated);
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const DAY: i64 = 24 * 60 * MIN;

    #[test]
    fn the_margin_is_a_tenth_of_the_lifetime_and_at_least_five_minutes() {
        // X's two-hour token: refreshed in its last 12 minutes.
        assert!(!due(120 * MIN, 0, 107 * MIN));
        assert!(due(120 * MIN, 0, 108 * MIN));
        // Threads' 60 days: in its last 6 days, not only its last 5 minutes.
        assert!(!due(60 * DAY, 0, 53 * DAY));
        assert!(due(60 * DAY, 0, 54 * DAY));
        // A short or odd lifetime still gets 5 minutes.
        assert!(due(10 * MIN, 0, 5 * MIN));
        assert!(!due(10 * MIN, 0, 4 * MIN));
        assert!(due(10 * MIN, 20 * MIN, 5 * MIN));
    }
}
