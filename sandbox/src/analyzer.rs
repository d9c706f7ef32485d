//! A loaded analyzer plugin.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::analyzer::AnalyzerPre;
use super::bindings::{from_wit, to_wit};
use super::call::{self, Budget, CallOutput, CallSpec};
use super::error::{CallError, LoadError};
use super::http::HttpPolicy;
use super::output::check_analyses;
use super::state::CallState;
use super::types::{Analysis, AnalysisInput, AnalyzerDescriptor};
use super::{PluginMeta, Shared, World};

#[derive(Clone)]
pub struct AnalyzerPlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    pre: AnalyzerPre<CallState>,
}

impl AnalyzerPlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Analyzer)?;
        let pre = AnalyzerPre::new(pre).map_err(|e| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the analyzer world's `analyzer` interface: {e:#}"),
        })?;
        Ok(AnalyzerPlugin {
            shared,
            meta: Arc::new(meta),
            pre,
        })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    pub fn describe(&self) -> Result<CallOutput<AnalyzerDescriptor>, CallError> {
        self.run("describe", async |store, pre| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_analysis()
                .call_describe(store)
                .await
                .map(from_wit)
        })
    }

    /// Analyzes one batch: one analysis per input, in order, within the fuel
    /// and time budget of one batch.
    pub fn analyze(&self, inputs: &[AnalysisInput]) -> Result<CallOutput<Vec<Analysis>>, CallError> {
        let wit_inputs: Vec<_> = inputs.iter().map(to_wit).collect();
        let out = self.run("analyze", async |store, pre| {
            pre.instantiate_async(&mut *store)
                .await?
                .socialcrm_plugin_analysis()
                .call_analyze(store, &wit_inputs)
                .await
                .map(from_wit)
        })?;
        if let Err(reason) = check_analyses(&out.value, inputs.len(), &self.meta.limits) {
            return Err(CallError {
                plugin: self.meta.spec.name.clone(),
                function: "analyze",
                reason,
                logs: out.logs,
            });
        }
        Ok(out)
    }

    fn run<T>(
        &self,
        function: &'static str,
        f: impl AsyncFnOnce(&mut wasmtime::Store<CallState>, &AnalyzerPre<CallState>) -> wasmtime::Result<T>,
    ) -> Result<CallOutput<T>, CallError> {
        let spec = CallSpec {
            function,
            account: None,
            budget: Budget {
                timeout: self.meta.limits.analyzer_timeout,
                fuel: Some(self.meta.limits.analyzer_fuel),
            },
            // The analyzer world has no `wasi:http`; the policy is empty all the same.
            policy: Arc::new(HttpPolicy::default()),
            kv: BTreeMap::new(),
            public_url: None,
        };
        call::run(&self.shared, &self.meta, spec, async |store| f(store, &self.pre).await)
    }
}
