//! A loaded source plugin (world `crm-source`, since 1.2.0): `describe`,
//! `check` and `pull`, run for an account as a channel's calls are (same
//! network policy, credentials and limits).

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::account::{self, Account};
use super::bindings::from_wit;
use super::bindings::source::exports::socialcrm::plugin::source;
use super::bindings::types::{ConfigEntry, PluginError};
use super::call::CallOutput;
use super::error::{CallError, LoadError};
use super::output::check_source_page;
use super::state::CallState;
use super::types::{SourceDescriptor, SourcePage};
use super::{PluginMeta, Shared, World};

/// A linked source component and where its export is.
#[derive(Clone)]
pub(crate) struct Linked {
    pre: InstancePre<CallState>,
    source: Arc<source::GuestIndices>,
}

#[derive(Clone)]
pub struct SourcePlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    linked: Linked,
}

impl SourcePlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Source)?;
        let source = source::GuestIndices::new(&pre).map_err(|e| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the crm-source world's `source` interface: {e:#}"),
        })?;
        Ok(SourcePlugin {
            shared,
            meta: Arc::new(meta),
            linked: Linked {
                pre,
                source: Arc::new(source),
            },
        })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    /// The source's self-description. No network access, no account.
    pub fn describe(&self) -> Result<CallOutput<SourceDescriptor>, CallError> {
        self.call("describe", None, async |store, linked, _| {
            guest(store, linked)
                .await?
                .call_describe(store)
                .await
                .map(|d| Ok(from_wit(d)))
        })
    }

    pub fn check(&self, account: &Account) -> Result<CallOutput<()>, CallError> {
        self.call("check", Some(account), async |store, linked, config| {
            guest(store, linked).await?.call_check(store, config).await
        })
    }

    /// The changes after `cursor`, checked against the plugin's output caps.
    pub fn pull(&self, account: &Account, cursor: &str) -> Result<CallOutput<SourcePage>, CallError> {
        let out = self.call("pull", Some(account), async |store, linked, config| {
            guest(store, linked)
                .await?
                .call_pull(store, config, cursor)
                .await
                .map(|r| r.map(from_wit))
        })?;
        if let Err(reason) = check_source_page(&out.value, &self.meta.limits) {
            return Err(CallError {
                plugin: self.meta.spec.name.clone(),
                function: "pull",
                reason,
                logs: out.logs,
            });
        }
        Ok(out)
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
}

/// A fresh instance's `source`.
async fn guest(store: &mut wasmtime::Store<CallState>, linked: &Linked) -> wasmtime::Result<source::Guest> {
    let instance = linked.pre.instantiate_async(&mut *store).await?;
    linked.source.load(&mut *store, &instance)
}
