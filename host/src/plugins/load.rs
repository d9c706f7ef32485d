//! A manifest's plugin in the sandbox: the manifest says what the sandbox
//! allows (`Manifest::sandbox`) and which world the component implements.

use std::ops::Deref;
use std::sync::Arc;

use super::{Manifest, PluginKind};
use crate::runtime::{ChannelPlugin, LoadError, Plugin, Runtime, SourcePlugin};

/// Loads `wasm` as the kind of plugin `manifest` names.
pub fn load(runtime: &Runtime, manifest: &Manifest, wasm: &[u8]) -> Result<Plugin, LoadError> {
    Ok(match manifest.kind {
        PluginKind::Channel => Plugin::Channel(runtime.load_channel(manifest.sandbox(), wasm)?),
        PluginKind::Analyzer => Plugin::Analyzer(runtime.load_analyzer(manifest.sandbox(), wasm)?),
        PluginKind::Source => Plugin::Source(runtime.load_source(manifest.sandbox(), wasm)?),
        PluginKind::Scorer => Plugin::Scorer(runtime.load_scorer(manifest.sandbox(), wasm)?),
    })
}

/// A source plugin in the sandbox with the manifest it was loaded from.
#[derive(Clone)]
pub struct LoadedSource {
    pub manifest: Arc<Manifest>,
    pub plugin: SourcePlugin,
}

/// A channel plugin in the sandbox with the manifest it was loaded from
/// (its config fields, network and webhook settings).
#[derive(Clone)]
pub struct LoadedChannel {
    pub manifest: Arc<Manifest>,
    pub plugin: ChannelPlugin,
}

impl Deref for LoadedChannel {
    type Target = ChannelPlugin;

    fn deref(&self) -> &ChannelPlugin {
        &self.plugin
    }
}
