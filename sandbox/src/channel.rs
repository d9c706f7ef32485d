//! A loaded channel plugin: the connector's five calls, and the two of
//! `upkeep` for a plugin that exports it (since 1.2.0; looked up by name, so
//! a channel built for 1.0 or 1.1 loads as before and is never asked).

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::bindings::channel::exports::socialcrm::plugin::{connector, upkeep};
use super::bindings::types::{ConfigEntry, PluginError};
use super::bindings::{StoredPost as WitStoredPost, from_wit, to_wit};
use super::call::{self, Budget, CallOutput, CallSpec};
use super::error::{CallError, FailReason, LoadError};
use super::http::{AllowedOrigin, CredentialRoute, FillRule, HttpPolicy, OriginError};
use super::output::{check_changes, check_posts};
use super::state::CallState;
use super::types::{ChannelDescriptor, Outbound, Page, Post, Sent, StoredPost, WebhookRequest, WebhookResult};
use super::{PluginMeta, Shared, World};

/// One channel account as a call sees it.
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

/// A linked channel component and where its exports are.
#[derive(Clone)]
pub(crate) struct Linked {
    pre: InstancePre<CallState>,
    connector: Arc<connector::GuestIndices>,
    /// `None`: the plugin does not export `upkeep`.
    upkeep: Option<Arc<upkeep::GuestIndices>>,
}

#[derive(Clone)]
pub struct ChannelPlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    linked: Linked,
}

impl ChannelPlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Channel)?;
        let link_error = |what: &str, e: wasmtime::Error| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the {what}: {e:#}"),
        };
        let connector =
            connector::GuestIndices::new(&pre).map_err(|e| link_error("channel world's `connector` interface", e))?;
        // Optional: absent is "not supported"; present, it must be whole.
        // Looked up as this host's version; wasmtime matches an `upkeep@1.X.Y`
        // of another 1.x to it.
        let name = format!("socialcrm:plugin/upkeep@{}", super::WIT_VERSION);
        let upkeep = match component.get_export_index(None, &name) {
            None => None,
            Some(_) => Some(Arc::new(
                upkeep::GuestIndices::new(&pre).map_err(|e| link_error("whole `upkeep` interface", e))?,
            )),
        };
        let linked = Linked {
            pre,
            connector: Arc::new(connector),
            upkeep,
        };
        Ok(ChannelPlugin {
            shared,
            meta: Arc::new(meta),
            linked,
        })
    }

    /// Whether the plugin exports `upkeep` (re-checks stored posts, forgets users).
    pub fn has_upkeep(&self) -> bool {
        self.linked.upkeep.is_some()
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    /// This plugin allowed to reach only `hosts` (patterns of its manifest's
    /// `allowed-hosts`): an upgrade's check before an admin grants the rest.
    pub fn with_allowed_hosts(&self, hosts: Vec<String>) -> ChannelPlugin {
        let mut meta = (*self.meta).clone();
        meta.spec.allowed_hosts = hosts;
        ChannelPlugin {
            shared: self.shared.clone(),
            meta: Arc::new(meta),
            linked: self.linked.clone(),
        }
    }

    /// The connector's self-description. No network access, no account.
    pub fn describe(&self) -> Result<CallOutput<ChannelDescriptor>, CallError> {
        self.call("describe", None, async |store, linked, _| {
            connector(store, linked)
                .await?
                .call_describe(store)
                .await
                .map(|d| Ok(from_wit(d)))
        })
    }

    pub fn check(&self, account: &Account) -> Result<CallOutput<()>, CallError> {
        self.call("check", Some(account), async |store, linked, config| {
            connector(store, linked).await?.call_check(store, config).await
        })
    }

    pub fn poll(&self, account: &Account, state: &str) -> Result<CallOutput<Page>, CallError> {
        let out = self.call("poll", Some(account), async |store, linked, config| {
            connector(store, linked)
                .await?
                .call_poll(store, config, state)
                .await
                .map(|r| r.map(from_wit))
        })?;
        self.checked("poll", out, |page| &page.posts)
    }

    pub fn handle_webhook(
        &self,
        account: &Account,
        request: &WebhookRequest,
    ) -> Result<CallOutput<WebhookResult>, CallError> {
        self.handle_webhook_at(account, request, None)
    }

    /// [`Self::handle_webhook`] on a server reached at `public_url`: the
    /// status links `changes.erasure-requested` hands out start with it.
    pub fn handle_webhook_at(
        &self,
        account: &Account,
        request: &WebhookRequest,
        public_url: Option<&str>,
    ) -> Result<CallOutput<WebhookResult>, CallError> {
        let request = to_wit(request);
        let call = Call {
            function: "handle-webhook",
            account: Some(account),
            public_url,
        };
        let out = self.call_with(call, async |store, linked, config| {
            connector(store, linked)
                .await?
                .call_handle_webhook(store, config, &request)
                .await
                .map(|r| r.map(from_wit))
        })?;
        self.checked("handle-webhook", out, |result| &result.posts)
    }

    pub fn send(&self, account: &Account, message: &Outbound) -> Result<CallOutput<Sent>, CallError> {
        let message = to_wit(message);
        self.call("send", Some(account), async |store, linked, config| {
            connector(store, linked)
                .await?
                .call_send(store, config, &message)
                .await
                .map(|r| r.map(from_wit))
        })
    }

    /// `upkeep.recheck` of `posts`: how many of them, from the first, the
    /// plugin checked, with the changes it reported. `None` when the plugin
    /// does not export `upkeep` (nothing is called).
    pub fn recheck(&self, account: &Account, posts: &[StoredPost]) -> Option<Result<CallOutput<usize>, CallError>> {
        self.linked.upkeep.as_ref()?;
        let posts: Vec<WitStoredPost> = posts.iter().map(to_wit).collect();
        let out = self.call("recheck", Some(account), async |store, linked, config| {
            upkeep(store, linked)
                .await?
                .call_recheck(store, config, &posts)
                .await
                // Never more than it was handed, whatever it claims.
                .map(|r| r.map(|n| (n as usize).min(posts.len())))
        });
        Some(out.and_then(|out| self.checked("recheck", out, |_| &[])))
    }

    /// `upkeep.forget` of user `external_user_id`: the key-value deletions
    /// come back in `kv_changes`, for the caller to commit (an erasure) or
    /// only to read (what the plugin holds about the user). `None` when the
    /// plugin does not export `upkeep`.
    pub fn forget(&self, account: &Account, external_user_id: &str) -> Option<Result<CallOutput<()>, CallError>> {
        self.linked.upkeep.as_ref()?;
        Some(self.call("forget", Some(account), async |store, linked, config| {
            upkeep(store, linked)
                .await?
                .call_forget(store, config, external_user_id)
                .await
        }))
    }

    fn call<T>(
        &self,
        function: &'static str,
        account: Option<&Account>,
        f: impl AsyncFnOnce(
            &mut wasmtime::Store<CallState>,
            &Linked,
            &Vec<ConfigEntry>,
        ) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<CallOutput<T>, CallError> {
        let call = Call {
            function,
            account,
            public_url: None,
        };
        self.call_with(call, f)
    }

    fn call_with<T>(
        &self,
        Call {
            function,
            account,
            public_url,
        }: Call<'_>,
        f: impl AsyncFnOnce(
            &mut wasmtime::Store<CallState>,
            &Linked,
            &Vec<ConfigEntry>,
        ) -> wasmtime::Result<Result<T, PluginError>>,
    ) -> Result<CallOutput<T>, CallError> {
        let fail = |reason, logs| CallError {
            plugin: self.meta.spec.name.clone(),
            function,
            reason,
            logs,
        };
        // Without an account (describe) the plugin gets no config and reaches no host.
        let (policy, config, kv) = match account {
            Some(account) => (
                self.policy(account).map_err(|reason| fail(reason, Vec::new()))?,
                self.config(account),
                account.kv.clone(),
            ),
            None => Default::default(),
        };
        let budget = Budget {
            timeout: self.meta.limits.channel_timeout,
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
        let out = call::run(&self.shared, &self.meta, spec, async |store| {
            f(store, &self.linked, &config).await
        })?;
        let no_secrets = BTreeMap::new();
        let secrets = account.map_or(&no_secrets, |a| &a.secrets);
        out.transpose()
            .map_err(|(e, logs)| fail(FailReason::Plugin(from_wit(e)).redacted(secrets), logs))
    }

    fn checked<T>(
        &self,
        function: &'static str,
        out: CallOutput<T>,
        posts: impl Fn(&T) -> &[Post],
    ) -> Result<CallOutput<T>, CallError> {
        let limits = &self.meta.limits;
        if let Err(reason) = check_posts(posts(&out.value), limits).and_then(|()| check_changes(&out.changes, limits)) {
            return Err(CallError {
                plugin: self.meta.spec.name.clone(),
                function,
                reason,
                logs: out.logs,
            });
        }
        Ok(out)
    }

    /// The configuration handed to the plugin: never a field the manifest marks secret.
    fn config(&self, account: &Account) -> Vec<ConfigEntry> {
        let secret = |name: &str| self.meta.spec.secret_fields.iter().any(|f| f == name);
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

    /// The account's HTTP policy. A pattern built from an optional config
    /// field the account left empty allows nothing (X's storage origin when
    /// the account runs no compliance jobs), and so do the rules on it.
    fn policy(&self, account: &Account) -> Result<Arc<HttpPolicy>, FailReason> {
        let spec = &self.meta.spec;
        let config = &account.config;
        Ok(Arc::new(HttpPolicy {
            origins: expand_set(&spec.allowed_hosts, |p| AllowedOrigin::expand(p, config))?,
            fills: expand_set(&spec.secret_fill, |f| FillRule::expand(f, config))?,
            credentials: expand_set(&spec.credentials, |r| CredentialRoute::expand(r, config))?,
            secrets: account.secrets.clone(),
            allow_private: account.allow_private,
        }))
    }
}

/// Each of `patterns` expanded for an account; one whose config field is
/// unset is left out, any other error fails the call as a config error.
fn expand_set<P, T>(patterns: &[P], expand: impl Fn(&P) -> Result<T, OriginError>) -> Result<Vec<T>, FailReason> {
    let mut out = Vec::with_capacity(patterns.len());
    for pattern in patterns {
        match expand(pattern) {
            Ok(expanded) => out.push(expanded),
            Err(OriginError::MissingField { .. }) => {}
            Err(e) => return Err(FailReason::Config(e.to_string())),
        }
    }
    Ok(out)
}

/// Which call runs, for which account, on a server reached where.
struct Call<'a> {
    function: &'static str,
    account: Option<&'a Account>,
    /// The server's public URL, for status links (`None`: they are paths).
    public_url: Option<&'a str>,
}

/// A fresh instance's `connector`.
async fn connector(store: &mut wasmtime::Store<CallState>, linked: &Linked) -> wasmtime::Result<connector::Guest> {
    let instance = linked.pre.instantiate_async(&mut *store).await?;
    linked.connector.load(&mut *store, &instance)
}

/// A fresh instance's `upkeep` (the caller checked that it is exported).
async fn upkeep(store: &mut wasmtime::Store<CallState>, linked: &Linked) -> wasmtime::Result<upkeep::Guest> {
    let indices = linked
        .upkeep
        .as_ref()
        .ok_or_else(|| wasmtime::format_err!("the plugin does not export `upkeep`"))?;
    let instance = linked.pre.instantiate_async(&mut *store).await?;
    indices.load(&mut *store, &instance)
}
