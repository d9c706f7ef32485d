//! Server-side sessions after sign-in. The cookie holds a random id; the
//! database holds its SHA-256 only, so a copy of the database opens no
//! session. A session ends after `idle` without requests, `lifetime` after
//! sign-in, or at logout. Each session has a CSRF token derived from its id:
//! requests that change state with the cookie must send it back in a header,
//! which a page on another origin cannot read or set.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{Sso, SsoError};
use crate::store::{audit, now_ms, sessions as store};
use crate::tokens::{Caller, Role, hash, random_secret};

/// The header that carries the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// `last_seen_at` is written at most this often (ms), not on every request.
const TOUCH_EVERY_MS: i64 = 30_000;

/// A signed-in person's session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

/// The CSRF token of session `id`: not the stored hash, and not computable
/// without the id, which only the cookie holds.
fn csrf(id: &str) -> String {
    hex::encode(Sha256::digest(format!("csrf:{id}").as_bytes()))
}

/// Compared in constant time, so response timing does not reveal a prefix.
pub fn csrf_matches(session: &Session, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| sent.as_bytes().ct_eq(session.csrf.as_bytes()).into())
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Sso {
    /// Starts a session for `caller` (a fresh id at every sign-in, so an id
    /// planted before sign-in is worth nothing); returns the cookie's value.
    pub async fn start_session(&self, db: &crate::store::Db, caller: &Caller) -> Result<(String, Session), SsoError> {
        let now = now_ms();
        let idle_since = now - ms(self.options.idle);
        store::sweep(db, now, idle_since).await?;
        let id = random_secret();
        let expires = now.saturating_add(ms(self.options.lifetime));
        store::insert(db, &hash(&id), &caller.name, caller.role.as_str(), now, expires).await?;
        audit(
            db.pool(),
            &caller.name,
            "session.start",
            &caller.name,
            &serde_json::json!({ "role": caller.role }),
        )
        .await?;
        let session = Session {
            caller: caller.clone(),
            csrf: csrf(&id),
        };
        Ok((id, session))
    }

    /// The live session with id `id`, if any; counts as activity.
    pub async fn session(&self, db: &crate::store::Db, id: &str) -> Result<Option<Session>, SsoError> {
        let now = now_ms();
        let key = hash(id);
        let Some(row) = store::live(db, &key, now, now - ms(self.options.idle)).await? else {
            return Ok(None);
        };
        // A role no longer known (a downgrade of the binary) ends the session.
        let Ok(role) = row.role.parse::<Role>() else {
            return Ok(None);
        };
        if now - row.last_seen_at >= TOUCH_EVERY_MS {
            store::touch(db, &key, now).await?;
        }
        Ok(Some(Session {
            caller: Caller { name: row.actor, role },
            csrf: csrf(id),
        }))
    }

    /// Ends session `id`; false when there was none.
    pub async fn end_session(&self, db: &crate::store::Db, id: &str) -> Result<bool, SsoError> {
        let Some(actor) = store::delete(db, &hash(id)).await? else {
            return Ok(false);
        };
        audit(db.pool(), &actor, "session.end", &actor, &serde_json::Value::Null).await?;
        Ok(true)
    }
}
