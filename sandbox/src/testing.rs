//! Tiny inline WAT components run through one real call, for the unit tests
//! beside the code they test (as wasmtime's own tests do).

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{Component, Linker};

use crate::call::{self, Budget, CallOutput, CallSpec};
use crate::http::HttpPolicy;
use crate::{CallError, Limits, PluginMeta, Runtime, RuntimeOptions, SandboxSpec};

/// A component exporting `run: func()` whose core function has `body`, with
/// one page of memory.
pub fn component(body: &str) -> String {
    format!(
        r#"(component
            (core module $m
                (memory 1)
                (func (export "run") {body}))
            (core instance $i (instantiate $m))
            (func (export "run") (canon lift (core func $i "run"))))"#
    )
}

/// Calls `run` of the WAT component `wat` once, under `limits` and `budget`.
pub fn run(wat: &str, limits: Limits, budget: Budget) -> Result<CallOutput<()>, CallError> {
    run_linked(wat, limits, budget, false)
}

/// Like [`run`], with the channel world's imports linked when `channel`.
pub fn run_linked(wat: &str, limits: Limits, budget: Budget, channel: bool) -> Result<CallOutput<()>, CallError> {
    let runtime = Runtime::new(RuntimeOptions::default()).expect("the runtime starts");
    let shared = &runtime.shared;
    let component = Component::new(&shared.engine, wat).expect("the WAT parses");
    let meta = PluginMeta {
        spec: SandboxSpec {
            name: "wat".into(),
            version: "0.0.0".into(),
            ..Default::default()
        },
        limits,
        digest: String::new(),
    };
    let spec = CallSpec {
        function: "run",
        account: None,
        budget,
        policy: Arc::new(HttpPolicy::default()),
        kv: BTreeMap::new(),
        public_url: None,
    };
    call::run(shared, &meta, spec, async |store| {
        let empty = Linker::new(&shared.engine);
        let linker = if channel { &shared.channel_linker } else { &empty };
        let instance = linker.instantiate_async(&mut *store, &component).await?;
        let run = instance.get_typed_func::<(), ()>(&mut *store, "run")?;
        run.call_async(&mut *store, ()).await
    })
}
