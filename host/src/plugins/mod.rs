//! Plugins: packages and signatures, the registry of installed versions, the
//! indexes packages are published in and installed from, and
//! where a plugin named by a channel or the CLI is found. The manifest
//! (`plugin.toml`) is the sandbox crate's, since a plugin's tests read it too.

mod bundled;
pub mod index;
mod inspect;
mod load;
mod package;
mod permissions;
pub mod registry;
pub mod schema;
pub mod signing;
pub mod trust;

pub use crate::runtime::manifest::{ConfigFieldSpec, Manifest, ManifestError, PluginKind, UpkeepSpec, WebhookSpec};
pub use bundled::{ResolveError, bundled_dir, read_manifest, resolve};
pub use inspect::world_wit;
pub use load::{LoadedChannel, LoadedSource, load};
pub use package::{Package, PackageError};
pub use permissions::Permissions;
