//! A loaded channel plugin: the connector's five calls, the two of `upkeep`
//! and the two of `messaging` for a plugin that exports them (since 1.2.0;
//! looked up by name, so a channel built for 1.0 or 1.1 loads as before and
//! is never asked).

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::account::{self, Account, Call};
use super::bindings::channel::exports::socialcrm::plugin::{connector, messaging, upkeep};
use super::bindings::types::{ConfigEntry, PluginError};
use super::bindings::{Convert, StoredPost as WitStoredPost, from_wit, to_wit};
use super::call::CallOutput;
use super::error::{CallError, LoadError};
use super::output::{check_changes, check_posts};
use super::state::CallState;
use super::types::{
    ChannelDescriptor, ConversationTarget, MessageBody, Outbound, Page, Post, Sent, StoredPost, Template,
    WebhookRequest, WebhookResult,
};
use super::{PluginMeta, Shared, World};

/// A linked channel component and where its exports are.
#[derive(Clone)]
pub(crate) struct Linked {
    pre: InstancePre<CallState>,
    connector: Arc<connector::GuestIndices>,
    /// `None`: the plugin does not export `upkeep`.
    upkeep: Option<Arc<upkeep::GuestIndices>>,
    /// `None`: the plugin does not export `messaging`.
    messaging: Option<Arc<messaging::GuestIndices>>,
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
        let exports = |interface: &str| {
            let name = format!("socialcrm:plugin/{interface}@{}", super::WIT_VERSION);
            component.get_export_index(None, &name).is_some()
        };
        let upkeep = if exports("upkeep") {
            let indices = upkeep::GuestIndices::new(&pre).map_err(|e| link_error("whole `upkeep` interface", e))?;
            Some(Arc::new(indices))
        } else {
            None
        };
        let messaging = if exports("messaging") {
            let indices =
                messaging::GuestIndices::new(&pre).map_err(|e| link_error("whole `messaging` interface", e))?;
            Some(Arc::new(indices))
        } else {
            None
        };
        let linked = Linked {
            pre,
            connector: Arc::new(connector),
            upkeep,
            messaging,
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

    /// Whether the plugin exports `messaging` (sends to conversations).
    pub fn has_messaging(&self) -> bool {
        self.linked.messaging.is_some()
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
        let out = account::call(
            &self.shared,
            &self.meta,
            &self.linked,
            call,
            async |store, linked, config| {
                connector(store, linked)
                    .await?
                    .call_handle_webhook(store, config, &request)
                    .await
                    .map(|r| r.map(from_wit))
            },
        )?;
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

    /// `messaging.templates`: the account's approved templates. `None` when
    /// the plugin does not export `messaging`.
    pub fn templates(&self, account: &Account) -> Option<Result<CallOutput<Vec<Template>>, CallError>> {
        self.linked.messaging.as_ref()?;
        Some(self.call("templates", Some(account), async |store, linked, config| {
            messaging(store, linked)
                .await?
                .call_templates(store, config)
                .await
                .map(|r| r.map(from_wit))
        }))
    }

    /// `messaging.send-message` of `body` to `target`: the network's id of
    /// the message. `None` when the plugin does not export `messaging`.
    pub fn send_message(
        &self,
        account: &Account,
        target: &ConversationTarget,
        body: &MessageBody,
    ) -> Option<Result<CallOutput<String>, CallError>> {
        self.linked.messaging.as_ref()?;
        let (target, body) = (to_wit(target), body.clone().convert());
        Some(self.call("send-message", Some(account), async |store, linked, config| {
            messaging(store, linked)
                .await?
                .call_send_message(store, config, &target, &body)
                .await
                .map(|r| r.map(from_wit))
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
        account::call(
            &self.shared,
            &self.meta,
            &self.linked,
            account::Call::new(function, account),
            f,
        )
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
}

/// A fresh instance's `connector`.
async fn connector(store: &mut wasmtime::Store<CallState>, linked: &Linked) -> wasmtime::Result<connector::Guest> {
    let instance = linked.pre.instantiate_async(&mut *store).await?;
    linked.connector.load(&mut *store, &instance)
}

/// A fresh instance's `messaging` (the caller checked that it is exported).
async fn messaging(store: &mut wasmtime::Store<CallState>, linked: &Linked) -> wasmtime::Result<messaging::Guest> {
    let indices = linked
        .messaging
        .as_ref()
        .ok_or_else(|| wasmtime::format_err!("the plugin does not export `messaging`"))?;
    let instance = linked.pre.instantiate_async(&mut *store).await?;
    indices.load(&mut *store, &instance)
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
