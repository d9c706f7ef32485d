//! `plugin.toml` checked against the JSON Schema the SDK ships
//! (`sdk/plugin.schema.json`, vendored into every crate `plugin new` makes):
//! `plugin test` and `plugin pack` check what an author's editor checks.
//! The parser stays the authority at install; tests keep the two agreeing.

use std::sync::OnceLock;

/// The schema, as the SDK ships it.
pub const SCHEMA: &str = include_str!("../../../sdk/plugin.schema.json");

/// Where plugin.toml breaks the schema, one line per place.
#[derive(Debug, thiserror::Error)]
#[error("plugin.toml does not match the manifest schema (socialcrm-sdk/plugin.schema.json):\n{}", .0.join("\n"))]
pub struct SchemaError(pub Vec<String>);

/// Checks the text of a plugin.toml.
pub fn check(text: &str) -> Result<(), SchemaError> {
    let toml: toml::Value = toml::from_str(text).map_err(|e| SchemaError(vec![format!("  {e}")]))?;
    let json = serde_json::to_value(toml).map_err(|e| SchemaError(vec![format!("  {e}")]))?;
    let validator = validator().map_err(|e| SchemaError(vec![e.clone()]))?;
    let problems: Vec<String> = validator
        .iter_errors(&json)
        .map(|e| {
            let at = e.instance_path().to_string();
            format!("  {}: {e}", if at.is_empty() { "/".to_string() } else { at })
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(SchemaError(problems))
    }
}

fn validator() -> Result<&'static jsonschema::Validator, &'static String> {
    static VALIDATOR: OnceLock<Result<jsonschema::Validator, String>> = OnceLock::new();
    VALIDATOR
        .get_or_init(|| {
            let schema: serde_json::Value =
                serde_json::from_str(SCHEMA).map_err(|e| format!("the built-in schema is not JSON: {e}"))?;
            jsonschema::validator_for(&schema).map_err(|e| format!("the built-in schema does not compile: {e}"))
        })
        .as_ref()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::Manifest;

    /// Every bundled plugin's manifest, the templates' and the examples'.
    fn shipped() -> Vec<(String, String)> {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
        let mut found = Vec::new();
        for dir in ["plugins", "plugins/examples", "tests/hostile", "tests/compat"] {
            for entry in std::fs::read_dir(format!("{root}/{dir}"))
                .into_iter()
                .flatten()
                .flatten()
            {
                let path = entry.path().join("plugin.toml");
                if let Ok(text) = std::fs::read_to_string(&path) {
                    found.push((path.display().to_string(), text));
                }
            }
        }
        found
    }

    #[test]
    fn the_schema_lists_the_features_the_host_builds() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let listed = &schema["properties"]["scorer"]["properties"]["features"]["items"]["enum"];
        let built: Vec<&str> = crate::runtime::manifest::FEATURES.iter().map(|(n, _)| *n).collect();
        assert_eq!(listed, &serde_json::json!(built));
    }

    #[test]
    fn every_shipped_manifest_matches_the_schema_and_parses() {
        let shipped = shipped();
        assert!(shipped.len() >= 8, "{shipped:?}");
        for (path, text) in shipped {
            check(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
            Manifest::parse(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
        }
    }

    /// Mistakes the parser refuses, the schema refuses too, naming the place.
    #[test]
    fn the_schema_refuses_what_the_parser_refuses() {
        let with_network =
            "name = \"acme\"\nversion = \"0.1.0\"\nkind = \"channel\"\napi = \"^1.2\"\nnetwork = \"acme\"\n";
        check(with_network).unwrap();
        Manifest::parse(with_network).unwrap();
        let base = &with_network.replace("network = \"acme\"\n", "");
        let cases = [
            ("network = \"Acme\"", "/network"),
            ("limits = { max-requests = 5, max-posts-per-page = 1 }", "/limits"),
            ("credential = { scheme = \"token\", secret = \"t\" }", "/credential"),
            (
                "credential = { scheme = \"bearer\", secret = \"t\", refresh = { flow = \"oauth2\", token-url = \"x\" } }",
                "/credential",
            ),
            ("config = [{ name = \"k\", type = \"password\" }]", "/config/0/type"),
            ("webhook = { max-body-bytes = 99999999 }", "/webhook/max-body-bytes"),
            ("colour = \"red\"", "/"),
            (
                "secret-fill = [{ secret = \"s\", origin = \"https://a.example\", path = \"/x\" }]",
                "/secret-fill/0",
            ),
        ];
        for (line, at) in cases {
            let network = if line.starts_with("network") {
                ""
            } else {
                "network = \"acme\"\n"
            };
            let text = format!("{base}{network}{line}\n");
            assert!(Manifest::parse(&text).is_err(), "the parser takes {line}");
            let e = check(&text).expect_err(line).to_string();
            assert!(e.contains(&format!("  {at}")), "{line}: {e}");
        }
        // The kind's own rules: a channel names its network; an analyzer has no credential.
        let e = check(base).unwrap_err().to_string();
        assert!(e.contains("network"), "{e}");
        let analyzer = base.replace("channel", "analyzer") + "credential = { scheme = \"bearer\", secret = \"t\" }\n";
        assert!(check(&analyzer).is_err());
    }

    /// Each limit the parser knows is in the schema, and nothing else.
    #[test]
    fn the_schema_lists_every_limit() {
        let schema: serde_json::Value = serde_json::from_str(SCHEMA).unwrap();
        let listed: Vec<&String> = schema["$defs"]["limits"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        let parsed = serde_json::to_value(crate::runtime::Limits::default()).unwrap();
        let known: Vec<&String> = parsed.as_object().unwrap().keys().collect();
        let (mut listed, mut known) = (listed, known);
        listed.sort();
        known.sort();
        assert_eq!(listed, known);
    }
}
