//! Plugin packages: manifests and where plugins are found.

mod bundled;
mod manifest;

pub use bundled::{ResolveError, resolve};
pub use manifest::{ConfigFieldSpec, Manifest, ManifestError, PluginKind};
