//! The data of one call's Store, and the host side of the `log`, `kv`,
//! `signing`, `verification`, `changes` and `conversations` imports.

use std::collections::{BTreeMap, BTreeSet};

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::bindings::channel::socialcrm::plugin::{changes, conversations, kv, log, signing, types, verification};
use super::bindings::{Convert, from_wit};
use super::http::OutgoingHooks;
use super::limits::MemoryLimiter;
use super::redact::{one_line, redact};
use super::stderr::TailPipe;
use super::types::{Change, LogLevel, LogLine};

/// Key-value writes of a call, applied by the caller only if the call succeeds:
/// `None` deletes the key.
pub type KvChanges = BTreeMap<String, Option<Vec<u8>>>;

/// Profile fields a call marked as verified by the network: (author external
/// id, field name, value).
pub type VerifiedFields = BTreeSet<(String, String, String)>;

/// Bytes of plugin stderr kept per call, the last ones (enough for a panic message).
const STDERR_CAPACITY: usize = 8 << 10;
/// Bytes of one log line; the rest is cut.
const LOG_LINE_BYTES: usize = 4 << 10;
/// Bytes of verification marks kept per call; later marks are ignored.
const VERIFIED_BYTES: usize = 1 << 20;

pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    http_ctx: WasiHttpCtx,
    pub hooks: OutgoingHooks,
    pub limiter: MemoryLimiter,
    pub stderr: TailPipe,
    plugin: String,
    /// The account the call runs for, in log lines.
    account: Option<String>,
    kv: BTreeMap<String, Vec<u8>>,
    kv_changes: KvChanges,
    verified: VerifiedFields,
    verified_bytes: usize,
    changes: Vec<Change>,
    changes_bytes: usize,
    /// More changes than one call may report, or a ticket that could not be
    /// made: the call fails with this (`take_changes`).
    changes_failed: Option<String>,
    max_changes: usize,
    max_changes_bytes: usize,
    max_kv_bytes: usize,
    /// Where the status links of erasure requests start (empty: a path).
    public_url: String,
    log_lines: usize,
    max_log_lines: usize,
    logs: Vec<LogLine>,
}

impl CallState {
    pub fn new(
        plugin: String,
        account: Option<String>,
        hooks: OutgoingHooks,
        kv: BTreeMap<String, Vec<u8>>,
    ) -> CallState {
        let limits = hooks.limits.clone();
        let stderr = TailPipe::new(STDERR_CAPACITY);
        // No preopened directories, environment, arguments, sockets or host
        // stdio: components from Python or JavaScript import all of WASI and
        // must find nothing behind it.
        let wasi = WasiCtxBuilder::new()
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            http_ctx: WasiHttpCtx::new(),
            hooks,
            limiter: MemoryLimiter {
                limit: limits.memory_bytes,
            },
            stderr,
            plugin,
            account,
            kv,
            kv_changes: KvChanges::new(),
            verified: VerifiedFields::new(),
            verified_bytes: 0,
            changes: Vec::new(),
            changes_bytes: 0,
            changes_failed: None,
            max_changes: limits.max_posts,
            max_changes_bytes: limits.max_output_bytes,
            max_kv_bytes: limits.max_kv_bytes,
            public_url: String::new(),
            log_lines: 0,
            max_log_lines: limits.max_log_lines,
            logs: Vec::new(),
        }
    }

    /// The state of a call on a server reached at `public_url`.
    pub fn with_public_url(self, public_url: Option<&str>) -> CallState {
        CallState {
            public_url: public_url.unwrap_or_default().trim_end_matches('/').to_string(),
            ..self
        }
    }

    pub fn take_kv_changes(&mut self) -> KvChanges {
        std::mem::take(&mut self.kv_changes)
    }

    pub fn take_verified(&mut self) -> VerifiedFields {
        std::mem::take(&mut self.verified)
    }

    /// The changes the call reported, or `Err` when it reported more than a
    /// call's output may hold (none of them is then kept).
    pub fn take_changes(&mut self) -> Result<Vec<Change>, String> {
        match self.changes_failed.take() {
            Some(why) => Err(why),
            None => Ok(std::mem::take(&mut self.changes)),
        }
    }

    /// Keeps `change` (of `bytes` bytes of text) within the call's output
    /// caps; past them nothing more is held, and the call fails.
    fn report(&mut self, change: Change, bytes: usize) {
        if self.changes_failed.is_some()
            || self.changes.len() >= self.max_changes
            || self.changes_bytes + bytes > self.max_changes_bytes
        {
            let over = format!(
                "more changes than the {} changes or {} bytes one call may report",
                self.max_changes, self.max_changes_bytes
            );
            self.fail_changes(over);
            return;
        }
        self.changes_bytes += bytes;
        self.changes.push(change);
    }

    /// No change of the call is kept, and the call fails with `why` (the first reason stays).
    fn fail_changes(&mut self, why: String) {
        self.changes_failed.get_or_insert(why);
        self.changes = Vec::new();
    }

    pub fn take_logs(&mut self) -> Vec<LogLine> {
        std::mem::take(&mut self.logs)
    }

    fn kv_bytes_with(&self, key: &str, value_len: usize) -> usize {
        self.kv
            .iter()
            .filter(|(k, _)| k.as_str() != key)
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + key.len()
            + value_len
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for CallState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http_ctx,
            table: &mut self.table,
            hooks: &mut self.hooks,
        }
    }
}

impl types::Host for CallState {}

impl log::Host for CallState {
    fn write(&mut self, level: log::Level, message: String) {
        self.log_lines += 1;
        let counted = if self.log_lines > self.max_log_lines {
            "dropped"
        } else {
            match level {
                log::Level::Trace => "trace",
                log::Level::Debug => "debug",
                log::Level::Info => "info",
                log::Level::Warn => "warn",
                log::Level::Error => "error",
            }
        };
        let labels = [("plugin", self.plugin.clone()), ("level", counted.to_string())];
        metrics::counter!(crate::metrics::PLUGIN_LOG_LINES, &labels).increment(1);
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                tracing::warn!(plugin = %self.plugin, "log line cap reached; dropping the rest of this call's lines");
            }
            return;
        }
        let mut message = one_line(&redact(&message, &self.hooks.policy.secrets)).into_owned();
        if message.len() > LOG_LINE_BYTES {
            let mut cut = LOG_LINE_BYTES;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
        }
        let plugin = self.plugin.as_str();
        let account = self.account.as_deref().unwrap_or("");
        let level = match level {
            log::Level::Trace => {
                tracing::trace!(target: "plugin", plugin, account, "{message}");
                LogLevel::Trace
            }
            log::Level::Debug => {
                tracing::debug!(target: "plugin", plugin, account, "{message}");
                LogLevel::Debug
            }
            log::Level::Info => {
                tracing::info!(target: "plugin", plugin, account, "{message}");
                LogLevel::Info
            }
            log::Level::Warn => {
                tracing::warn!(target: "plugin", plugin, account, "{message}");
                LogLevel::Warn
            }
            log::Level::Error => {
                tracing::error!(target: "plugin", plugin, account, "{message}");
                LogLevel::Error
            }
        };
        self.logs.push(LogLine { level, message });
    }
}

impl kv::Host for CallState {
    fn get(&mut self, key: String) -> Option<Vec<u8>> {
        self.kv.get(&key).cloned()
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        if self.kv_bytes_with(&key, value.len()) > self.max_kv_bytes {
            return Err(format!("key-value quota of {} bytes exceeded", self.max_kv_bytes));
        }
        self.kv.insert(key.clone(), value.clone());
        self.kv_changes.insert(key, Some(value));
        Ok(())
    }

    fn delete(&mut self, key: String) {
        if self.kv.remove(&key).is_some() {
            self.kv_changes.insert(key, None);
        }
    }
}

impl CallState {
    /// The HMAC-SHA256 key made of the account's secret `name`.
    fn hmac_key(&self, name: &str) -> Result<ring::hmac::Key, types::PluginError> {
        let secret = self
            .hooks
            .policy
            .secrets
            .get(name)
            .ok_or_else(|| types::PluginError::InvalidConfig(format!("the account has no secret `{name}`")))?;
        Ok(ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes()))
    }
}

impl signing::Host for CallState {
    fn hmac_sha256(&mut self, secret: String, message: Vec<u8>) -> Result<Vec<u8>, types::PluginError> {
        Ok(ring::hmac::sign(&self.hmac_key(&secret)?, &message).as_ref().to_vec())
    }

    fn verify_hmac_sha256(
        &mut self,
        secret: String,
        message: Vec<u8>,
        mac: Vec<u8>,
    ) -> Result<bool, types::PluginError> {
        Ok(ring::hmac::verify(&self.hmac_key(&secret)?, &message, &mac).is_ok())
    }
}

impl verification::Host for CallState {
    fn verified_field(&mut self, author_id: String, name: String, value: String) {
        let bytes = author_id.len() + name.len() + value.len();
        if self.verified_bytes + bytes > VERIFIED_BYTES {
            return;
        }
        self.verified_bytes += bytes;
        self.verified.insert((author_id, name, value));
    }
}

impl changes::Host for CallState {
    fn post_deleted(&mut self, external_id: String) {
        let bytes = external_id.len();
        let external_id = external_id.convert();
        self.report(Change::PostDeleted { external_id }, bytes);
    }

    fn post_edited(&mut self, external_id: String, text: String, edited_at: String, raw: Option<String>) {
        let bytes = external_id.len() + text.len() + edited_at.len() + raw.as_ref().map_or(0, String::len);
        let change = Change::PostEdited {
            external_id: external_id.convert(),
            text: text.convert(),
            edited_at: edited_at.convert(),
            raw: raw.convert(),
        };
        self.report(change, bytes);
    }

    fn user_gone(&mut self, external_user_id: String, reason: changes::GoneReason) {
        let bytes = external_user_id.len();
        let change = Change::UserGone {
            external_user_id: external_user_id.convert(),
            reason: from_wit(reason),
        };
        self.report(change, bytes);
    }

    fn erasure_requested(&mut self, external_user_id: String) -> changes::ErasureTicket {
        // A guessable code would open the status page to anyone: without
        // randomness the call fails, and its ticket leads nowhere.
        let Some(code) = confirmation_code() else {
            self.fail_changes("no random confirmation code could be made".into());
            return changes::ErasureTicket {
                confirmation_code: String::new(),
                status_url: String::new(),
            };
        };
        let status_url = format!("{}/deletions/{code}", self.public_url);
        let bytes = external_user_id.len() + code.len();
        let change = Change::ErasureRequested {
            external_user_id: external_user_id.convert(),
            code: code.clone(),
        };
        self.report(change, bytes);
        changes::ErasureTicket {
            confirmation_code: code,
            status_url,
        }
    }
}

impl conversations::Host for CallState {
    fn reply_window(&mut self, conversation_id: String, open_until: String) {
        let bytes = conversation_id.len() + open_until.len();
        let change = Change::ReplyWindow {
            conversation_id: conversation_id.convert(),
            open_until: open_until.convert(),
        };
        self.report(change, bytes);
    }
}

/// 128 random bits in hex: the only key to a deletion request's status
/// page. `None` when the system has no randomness to give.
fn confirmation_code() -> Option<String> {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new().fill(&mut bytes).ok()?;
    Some(hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::call::Budget;
    use crate::testing::run_linked;
    use crate::types::Change;
    use crate::{FailReason, Limits, WIT_VERSION};

    /// A component that reports post `p1` deleted `n` times.
    fn deleting(n: u32) -> String {
        format!(
            r#"(component
                (import "socialcrm:plugin/changes@{WIT_VERSION}" (instance $changes
                    (export "post-deleted" (func (param "external-id" string)))))
                (core module $mem (memory (export "memory") 1) (data (i32.const 0) "p1"))
                (core instance $mi (instantiate $mem))
                (alias export $changes "post-deleted" (func $deleted))
                (core func $lowered (canon lower (func $deleted) (memory (core memory $mi "memory"))))
                (core module $m
                    (import "host" "deleted" (func $d (param i32 i32)))
                    (func (export "run") (local $n i32)
                        (block $done (loop $again
                            (br_if $done (i32.ge_u (local.get $n) (i32.const {n})))
                            (call $d (i32.const 0) (i32.const 2))
                            (local.set $n (i32.add (local.get $n) (i32.const 1)))
                            (br $again)))))
                (core instance $i (instantiate $m (with "host" (instance (export "deleted" (func $lowered))))))
                (func (export "run") (canon lift (core func $i "run"))))"#
        )
    }

    fn call(n: u32) -> Result<Vec<Change>, FailReason> {
        let limits = Limits {
            max_posts: 3,
            ..Limits::default()
        };
        let budget = Budget {
            timeout: Duration::from_secs(5),
            fuel: None,
        };
        run_linked(&deleting(n), limits, budget, true)
            .map(|out| out.changes)
            .map_err(|e| e.reason)
    }

    #[test]
    fn a_call_reports_as_many_changes_as_it_may_return_posts() {
        let deleted = Change::PostDeleted {
            external_id: "p1".into(),
        };
        match call(3) {
            Ok(changes) => assert_eq!(changes, [deleted.clone(), deleted.clone(), deleted]),
            Err(e) => panic!("{e}"),
        }
        match call(4) {
            Err(FailReason::OutputLimit(m)) => assert!(m.contains("3 changes"), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}
