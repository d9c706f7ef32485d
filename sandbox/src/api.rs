//! A plugin's imports against the contract range its manifest declares: an
//! interface newer than the range's lowest version would be missing on a host
//! the range claims to work with, so such a plugin is refused at load.

use semver::{Op, Version, VersionReq};
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::bindings::SINCE;

/// The contract's package, as imports name it.
const PACKAGE: &str = "socialcrm:plugin/";

/// The first contract version that has every interface `component` imports,
/// and the import that needs it; `None` when 1.0 has them all.
fn needs(component: &Component, engine: &Engine) -> Option<(Version, String)> {
    component
        .component_type()
        .imports(engine)
        .filter_map(|(name, _)| {
            let interface = name.strip_prefix(PACKAGE)?.split('@').next()?;
            let since = SINCE.iter().find(|(i, _)| *i == interface)?.1;
            Some((Version::new(since.0, since.1, since.2), name.to_string()))
        })
        .max()
}

/// The lowest version `api` accepts (`^1.1`, `~1.1.0`, `>=1.1, <2` → 1.1.0).
fn lowest(api: &VersionReq) -> Version {
    api.comparators
        .iter()
        .filter(|c| {
            matches!(
                c.op,
                Op::Exact | Op::Greater | Op::GreaterEq | Op::Tilde | Op::Caret | Op::Wildcard
            )
        })
        .map(|c| Version::new(c.major, c.minor.unwrap_or(0), c.patch.unwrap_or(0)))
        .max()
        .unwrap_or(Version::new(0, 0, 0))
}

/// Why `component` does not fit `api`, naming the import and the range.
pub(crate) fn check(component: &Component, engine: &Engine, api: &VersionReq) -> Result<(), String> {
    let Some((since, import)) = needs(component, engine) else {
        return Ok(());
    };
    if lowest(api) >= since {
        return Ok(());
    }
    Err(format!(
        "imports `{import}`, which is new in socialcrm:plugin {since}, but plugin.toml declares api = \"{api}\"; declare api = \"^{}.{}\"",
        since.major, since.minor
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lowest_version_of_a_range() {
        for (range, want) in [
            ("^1.1", "1.1.0"),
            ("~1.2.3", "1.2.3"),
            (">=1.1, <2", "1.1.0"),
            ("1", "1.0.0"),
            ("*", "0.0.0"),
        ] {
            let api = VersionReq::parse(range).unwrap_or_else(|e| panic!("{range}: {e}"));
            assert_eq!(lowest(&api).to_string(), want, "{range}");
        }
    }
}
