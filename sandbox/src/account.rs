//! A plugin's account as a call sees it (channels and sources alike): the
//! configuration the plugin gets, the network policy and credentials the
//! host applies, and the call that runs with both.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::bindings::from_wit;
use super::bindings::types::{ConfigEntry, PluginError};
use super::call::{self, Budget, CallOutput, CallSpec};
use super::error::{CallError, FailReason};
use super::http::{AllowedOrigin, CredentialRoute, FillRule, HttpPolicy, OriginError};
use super::state::CallState;
use super::{PluginMeta, Shared};

/// One account (of a channel or a source) as a call sees it.
#[derive(Clone, Debug, Default)]
pub struct Account {
    pub name: String,
    /// Non-secret configuration, handed to the plugin.
    pub config: BTreeMap<String, String>,
    /// Secrets, attached to requests by the host and never handed to the plugin.
    pub secrets: BTreeMap<String, String>,
    /// The plugin's key-value store for this account, as last committed.
    pub kv: BTreeMap<String, Vec<u8>>,
    /// Admin setting: the account may reach loopback and private addresses.
    pub allow_private: bool,
}

impl Account {
    /// Applies a successful call's key-value writes, as the caller commits them.
    pub fn apply_kv(&mut self, changes: super::KvChanges) {
        for (key, value) in changes {
            match value {
                Some(v) => self.kv.insert(key, v),
                None => self.kv.remove(&key),
            };
        }
    }
}

/// Which call runs, for which account, on a server reached where.
pub(crate) struct Call<'a> {
    pub function: &'static str,
    pub account: Option<&'a Account>,
    /// The server's public URL, for status links (`None`: they are paths).
    pub public_url: Option<&'a str>,
}

impl<'a> Call<'a> {
    /// `function` for `account`, with no public URL (every call but a webhook's).
    pub fn new(function: &'static str, account: Option<&'a Account>) -> Self {
        Call {
            function,
            account,
            public_url: None,
        }
    }
}

/// Runs `f` on a fresh instance of `linked` for the call's account (none for
/// `describe`: no config, no host reachable), within the plugin's time
/// budget; a plugin error comes back with the account's secrets redacted.
pub(crate) fn call<L, T>(
    shared: &Shared,
    meta: &PluginMeta,
    linked: &L,
    Call {
        function,
        account,
        public_url,
    }: Call<'_>,
    f: impl AsyncFnOnce(&mut wasmtime::Store<CallState>, &L, &Vec<ConfigEntry>) -> wasmtime::Result<Result<T, PluginError>>,
) -> Result<CallOutput<T>, CallError> {
    let fail = |reason, logs| CallError {
        plugin: meta.spec.name.clone(),
        function,
        reason,
        logs,
    };
    let (policy, config, kv) = match account {
        Some(account) => (
            policy(meta, account).map_err(|reason| fail(reason, Vec::new()))?,
            config(meta, account),
            account.kv.clone(),
        ),
        None => Default::default(),
    };
    let budget = Budget {
        timeout: meta.limits.channel_timeout,
        fuel: None,
    };
    let spec = CallSpec {
        function,
        account: account.map(|a| a.name.as_str()),
        budget,
        policy,
        kv,
        public_url,
    };
    let out = call::run(shared, meta, spec, async |store| f(store, linked, &config).await)?;
    let no_secrets = BTreeMap::new();
    let secrets = account.map_or(&no_secrets, |a| &a.secrets);
    out.transpose()
        .map_err(|(e, logs)| fail(FailReason::Plugin(from_wit(e)).redacted(secrets), logs))
}

/// The configuration handed to the plugin: never a field the manifest marks secret.
fn config(meta: &PluginMeta, account: &Account) -> Vec<ConfigEntry> {
    let secret = |name: &str| meta.spec.secret_fields.iter().any(|f| f == name);
    account
        .config
        .iter()
        .filter(|(name, _)| !secret(name))
        .map(|(name, value)| ConfigEntry {
            name: name.clone(),
            value: value.clone(),
        })
        .collect()
}

/// The account's HTTP policy. A pattern built from an optional config field
/// the account left empty allows nothing (X's storage origin when the
/// account runs no compliance jobs), and so do the rules on it.
fn policy(meta: &PluginMeta, account: &Account) -> Result<Arc<HttpPolicy>, FailReason> {
    let spec = &meta.spec;
    let config = &account.config;
    let optional = &spec.optional_fields;
    Ok(Arc::new(HttpPolicy {
        origins: expand_set(&spec.allowed_hosts, optional, |p| AllowedOrigin::expand(p, config))?,
        fills: expand_set(&spec.secret_fill, optional, |f| FillRule::expand(f, config))?,
        credentials: expand_set(&spec.credentials, optional, |r| CredentialRoute::expand(r, config))?,
        secrets: account.secrets.clone(),
        allow_private: account.allow_private,
    }))
}

/// Each of `patterns` expanded for an account; one on an `optional` config
/// field the account left empty is left out, any other error fails the call
/// as a config error.
fn expand_set<P, T>(
    patterns: &[P],
    optional: &[String],
    expand: impl Fn(&P) -> Result<T, OriginError>,
) -> Result<Vec<T>, FailReason> {
    let mut out = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        match expand(pattern) {
            Ok(expanded) => out.push(expanded),
            Err(OriginError::MissingField { field, .. }) if optional.contains(&field) => {}
            Err(e) => return Err(FailReason::Config(e.to_string())),
        }
    }
    Ok(out)
}
