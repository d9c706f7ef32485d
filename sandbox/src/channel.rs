//! A loaded channel plugin and its five calls.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::channel::ChannelPre;
use super::bindings::types::{ConfigEntry, PluginError};
use super::bindings::{from_wit, to_wit};
use super::call::{self, Budget, CallOutput, CallSpec};
use super::error::{CallError, FailReason, LoadError};
use super::http::{AllowedOrigin, FillRule, HttpPolicy};
use super::output::check_posts;
use super::state::CallState;
use super::types::{ChannelDescriptor, Outbound, Page, Post, Sent, WebhookRequest, WebhookResult};
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

#[derive(Clone)]
pub struct ChannelPlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    pre: ChannelPre<CallState>,
}

impl ChannelPlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Channel)?;
        let pre = ChannelPre::new(pre).map_err(|e| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the channel world's `connector` interface: {e:#}"),
        })?;
        Ok(ChannelPlugin {
            shared,
            meta: Arc::new(meta),
            pre,
        })
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
            pre: self.pre.clone(),
        }
    }

    /// The connector's self-description. No network access, no account.
    pub fn describe(&self) -> Result<CallOutput<ChannelDescriptor>, CallError> {
        self.call("describe", None, async |store, pre, _| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_connector()
                .call_describe(store)
                .await
                .map(|d| Ok(from_wit(d)))
        })
    }

    pub fn check(&self, account: &Account) -> Result<CallOutput<()>, CallError> {
        self.call("check", Some(account), async |store, pre, config| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_connector()
                .call_check(store, config)
                .await
        })
    }

    pub fn poll(&self, account: &Account, state: &str) -> Result<CallOutput<Page>, CallError> {
        let out = self.call("poll", Some(account), async |store, pre, config| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_connector()
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
        let request = to_wit(request);
        let out = self.call("handle-webhook", Some(account), async |store, pre, config| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_connector()
                .call_handle_webhook(store, config, &request)
                .await
                .map(|r| r.map(from_wit))
        })?;
        self.checked("handle-webhook", out, |result| &result.posts)
    }

    pub fn send(&self, account: &Account, message: &Outbound) -> Result<CallOutput<Sent>, CallError> {
        let message = to_wit(message);
        self.call("send", Some(account), async |store, pre, config| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_connector()
                .call_send(store, config, &message)
                .await
                .map(|r| r.map(from_wit))
        })
    }

    fn call<T>(
        &self,
        function: &'static str,
        account: Option<&Account>,
        f: impl AsyncFnOnce(
            &mut wasmtime::Store<CallState>,
            &ChannelPre<CallState>,
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
        };
        let out = call::run(&self.shared, &self.meta, spec, async |store| {
            f(store, &self.pre, &config).await
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
        if let Err(reason) = check_posts(posts(&out.value), &self.meta.limits) {
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

    fn policy(&self, account: &Account) -> Result<Arc<HttpPolicy>, FailReason> {
        let origins = self
            .meta
            .spec
            .allowed_hosts
            .iter()
            .map(|pattern| AllowedOrigin::expand(pattern, &account.config))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| FailReason::Config(e.to_string()))?;
        let fills = self
            .meta
            .spec
            .secret_fill
            .iter()
            .map(|fill| FillRule::expand(fill, &account.config))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| FailReason::Config(e.to_string()))?;
        Ok(Arc::new(HttpPolicy {
            origins,
            fills,
            credential: self.meta.spec.credential.clone(),
            secrets: account.secrets.clone(),
            allow_private: account.allow_private,
        }))
    }
}
