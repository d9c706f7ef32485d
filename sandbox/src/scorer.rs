//! A loaded scorer plugin: a predictive model over contacts.

use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::scorer::ScorerPre;
use super::bindings::{from_wit, to_wit};
use super::call::{self, CallOutput, CallSpec};
use super::error::{CallError, LoadError};
use super::output::check_predictions;
use super::state::CallState;
use super::types::{Prediction, ScoreRequest, ScorerDescriptor};
use super::{PluginMeta, Shared, World};

#[derive(Clone)]
pub struct ScorerPlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    pre: ScorerPre<CallState>,
}

impl ScorerPlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Scorer)?;
        let pre = ScorerPre::new(pre).map_err(|e| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the scorer world's `scoring` interface: {e:#}"),
        })?;
        Ok(ScorerPlugin {
            shared,
            meta: Arc::new(meta),
            pre,
        })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    pub fn describe(&self) -> Result<CallOutput<ScorerDescriptor>, CallError> {
        self.run("describe", async |store, pre| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_scoring()
                .call_describe(store)
                .await
                .map(from_wit)
        })
    }

    /// Scores one batch: one prediction per subject, in order, within the
    /// fuel and time budget of one batch (the analyzer's). Factors beyond
    /// [`MAX_FACTORS`](crate::MAX_FACTORS) are dropped.
    pub fn score(&self, request: &ScoreRequest) -> Result<CallOutput<Vec<Prediction>>, CallError> {
        let wit_request = to_wit(request);
        let mut out = self.run("score", async |store, pre| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_scoring()
                .call_score(store, &wit_request)
                .await
                .map(from_wit)
        })?;
        if let Err(reason) = check_predictions(&mut out.value, request.subjects.len(), &self.meta.limits) {
            return Err(CallError {
                plugin: self.meta.spec.name.clone(),
                function: "score",
                reason,
                logs: out.logs,
            });
        }
        Ok(out)
    }

    fn run<T>(
        &self,
        function: &'static str,
        f: impl AsyncFnOnce(&mut wasmtime::Store<CallState>, &ScorerPre<CallState>) -> wasmtime::Result<T>,
    ) -> Result<CallOutput<T>, CallError> {
        let spec = CallSpec::pure(function, &self.meta.limits);
        call::run(&self.shared, &self.meta, spec, async |store| f(store, &self.pre).await)
    }
}
