//! A loaded analyzer plugin, with its optional `signals` export (custom
//! signals and aspects, since 1.2) looked up by name.

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre};

use super::bindings::analyzer::exports::socialcrm::plugin::{analysis, signals};
use super::bindings::{from_wit, to_wit};
use super::call::{self, CallOutput, CallSpec};
use super::error::{CallError, FailReason, LoadError};
use super::output::{check_analyses, check_rich};
use super::state::CallState;
use super::types::{Analysis, AnalysisInput, AnalyzerDescriptor, SignalSpec, TaxonomyEntry};
use super::{PluginMeta, Shared, World};

#[derive(Clone)]
pub struct AnalyzerPlugin {
    shared: Arc<Shared>,
    meta: Arc<PluginMeta>,
    pre: InstancePre<CallState>,
    analysis: Arc<analysis::GuestIndices>,
    /// `None`: the plugin does not export `signals`.
    signals: Option<Arc<signals::GuestIndices>>,
}

impl AnalyzerPlugin {
    pub(crate) fn new(shared: Arc<Shared>, meta: PluginMeta, component: &Component) -> Result<Self, LoadError> {
        let pre = shared.instance_pre(&meta, component, World::Analyzer)?;
        let link_error = |what: &str, e: wasmtime::Error| LoadError::Link {
            name: meta.spec.name.clone(),
            reason: format!("does not export the {what}: {e:#}"),
        };
        let analysis =
            analysis::GuestIndices::new(&pre).map_err(|e| link_error("analyzer world's `analysis` interface", e))?;
        // Optional; present, it must be whole (as a channel's `upkeep`).
        let name = format!("socialcrm:plugin/signals@{}", super::WIT_VERSION);
        let signals = match component.get_export_index(None, &name) {
            Some(_) => Some(Arc::new(
                signals::GuestIndices::new(&pre).map_err(|e| link_error("whole `signals` interface", e))?,
            )),
            None => None,
        };
        Ok(AnalyzerPlugin {
            shared,
            meta: Arc::new(meta),
            pre,
            analysis: Arc::new(analysis),
            signals,
        })
    }

    pub fn meta(&self) -> &PluginMeta {
        &self.meta
    }

    /// Whether the plugin exports `signals` (custom signals, aspects).
    pub fn has_signals(&self) -> bool {
        self.signals.is_some()
    }

    pub fn describe(&self) -> Result<CallOutput<AnalyzerDescriptor>, CallError> {
        self.run("describe", async |store, this| {
            let instance = this.pre.instantiate_async(&mut *store).await?;
            let guest = this.analysis.load(&mut *store, &instance)?;
            guest.call_describe(store).await.map(from_wit)
        })
    }

    /// Analyzes one batch: one analysis per input, in order, within the fuel
    /// and time budget of one batch.
    pub fn analyze(&self, inputs: &[AnalysisInput]) -> Result<CallOutput<Vec<Analysis>>, CallError> {
        let wit_inputs: Vec<analysis::AnalysisInput> = inputs.iter().map(to_wit).collect();
        let out = self.run("analyze", async |store, this| {
            let instance = this.pre.instantiate_async(&mut *store).await?;
            let guest = this.analysis.load(&mut *store, &instance)?;
            guest.call_analyze(store, &wit_inputs).await.map(from_wit)
        })?;
        self.checked("analyze", out, |value| {
            check_analyses(value, inputs.len(), &self.meta.limits)
        })
    }

    /// The custom signals it declares; empty without `signals`.
    pub fn custom_signals(&self) -> Result<CallOutput<Vec<SignalSpec>>, CallError> {
        let out = self.run("custom-signals", async |store, this| {
            let Some(signals) = &this.signals else {
                return Ok(Vec::new());
            };
            let instance = this.pre.instantiate_async(&mut *store).await?;
            let guest = signals.load(&mut *store, &instance)?;
            guest.call_custom_signals(store).await.map(from_wit)
        })?;
        let specs = out.value.clone();
        self.checked("custom-signals", out, |_| {
            check_rich(&[], &[], &specs, &[], &self.meta.limits)
        })
    }

    /// Analyzes one batch knowing the brand's taxonomy: with `signals`, its
    /// `analyze-rich` (custom signals checked against what it declares in the
    /// same call, aspects against the taxonomy and the text); without, as
    /// [`analyze`](Self::analyze).
    pub fn analyze_rich(
        &self,
        inputs: &[AnalysisInput],
        taxonomy: &[TaxonomyEntry],
    ) -> Result<CallOutput<Vec<Analysis>>, CallError> {
        if self.signals.is_none() {
            return self.analyze(inputs);
        }
        let wit_inputs: Vec<signals::RichInput> = inputs.iter().map(to_wit).collect();
        let wit_taxonomy: Vec<signals::TaxonomyEntry> = taxonomy.iter().map(to_wit).collect();
        let out = self.run("analyze-rich", async |store, this| {
            let Some(signals) = &this.signals else {
                return Ok((Vec::new(), Vec::new()));
            };
            let instance = this.pre.instantiate_async(&mut *store).await?;
            let guest = signals.load(&mut *store, &instance)?;
            let specs: Vec<SignalSpec> = guest.call_custom_signals(&mut *store).await.map(from_wit)?;
            let analyses: Vec<Analysis> = guest
                .call_analyze_rich(store, &wit_inputs, &wit_taxonomy)
                .await
                .map(from_wit)?;
            Ok((specs, analyses))
        })?;
        let checked = self.checked("analyze-rich", out, |(specs, analyses)| {
            check_analyses(analyses, inputs.len(), &self.meta.limits)?;
            check_rich(analyses, inputs, specs, taxonomy, &self.meta.limits)
        })?;
        Ok(checked.map(|(_, analyses)| analyses))
    }

    /// `out`, or the call's error when `check` refuses its value.
    fn checked<T>(
        &self,
        function: &'static str,
        out: CallOutput<T>,
        check: impl FnOnce(&T) -> Result<(), FailReason>,
    ) -> Result<CallOutput<T>, CallError> {
        match check(&out.value) {
            Ok(()) => Ok(out),
            Err(reason) => Err(CallError {
                plugin: self.meta.spec.name.clone(),
                function,
                reason,
                logs: out.logs,
            }),
        }
    }

    fn run<T>(
        &self,
        function: &'static str,
        f: impl AsyncFnOnce(&mut wasmtime::Store<CallState>, &Self) -> wasmtime::Result<T>,
    ) -> Result<CallOutput<T>, CallError> {
        let spec = CallSpec::pure(function, &self.meta.limits);
        call::run(&self.shared, &self.meta, spec, async |store| f(store, self).await)
    }
}
