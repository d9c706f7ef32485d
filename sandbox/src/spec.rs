//! What the sandbox knows of a plugin: who it is, the limits it asks for, and
//! what it may reach. `plugins` builds one from a manifest; the sandbox never
//! reads a manifest.

use super::http::{CredentialRule, SecretFill};
use super::limits::Limits;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct SandboxSpec {
    pub name: String,
    pub version: String,
    /// Limits the plugin asks for; the host's maximums still apply.
    pub limits: Limits,
    /// Origin patterns it may call (`https://{instance}`: config fields in braces).
    pub allowed_hosts: Vec<String>,
    /// Which credential the host attaches to which request.
    pub credentials: Vec<CredentialRule>,
    /// Where the host may fill which secret into a request.
    pub secret_fill: Vec<SecretFill>,
    /// Config fields that are secrets: never handed to the plugin.
    pub secret_fields: Vec<String>,
    /// Config fields an account may leave empty: an allowed host (and a
    /// credential or fill rule) built from one then allows nothing, where a
    /// required one left empty fails the call as a configuration error.
    pub optional_fields: Vec<String>,
    /// The contract versions the plugin declares (`api`); an import newer
    /// than the lowest of them is refused at load. `None`: not checked.
    pub api: Option<semver::VersionReq>,
}

impl SandboxSpec {
    /// `name@version`, as errors name a plugin.
    pub fn id(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}
