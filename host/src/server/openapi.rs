//! The OpenAPI 3.1 document, built from the routes themselves (each handler
//! carries its description), plus what every operation shares: bearer auth
//! and the error responses.

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, OpenApi, Ref, RefOr, ResponseBuilder};
use utoipa::{PartialSchema, ToSchema};

use super::error::ErrorBody;

#[derive(utoipa::OpenApi)]
#[openapi(info(
    title = "socialcrm",
    description = "The socialcrm API: inbox, customers, identities, insights, plugins and channels."
))]
pub struct ApiDoc;

/// A semantic version as the `semver` crate parses it (numbers of at most 16
/// digits, so every string the pattern allows parses). A schema only: fields
/// stay strings, parsed where they are used.
pub struct SemVer;

impl PartialSchema for SemVer {
    fn schema() -> RefOr<Schema> {
        const NUMBER: &str = "(0|[1-9][0-9]{0,15})";
        const PRE: &str = "(0|[1-9][0-9]{0,15}|[0-9]*[A-Za-z-][0-9A-Za-z-]*)";
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(format!(
                "^{NUMBER}\\.{NUMBER}\\.{NUMBER}(-{PRE}(\\.{PRE})*)?(\\+[0-9A-Za-z-]+(\\.[0-9A-Za-z-]+)*)?$"
            )))
            .examples(["1.2.0"])
            .into()
    }
}

impl ToSchema for SemVer {}

/// Text that is not only whitespace: at least one character outside Rust's
/// `char::is_whitespace` set, which the server trims. A schema only.
pub struct NonBlank;

impl PartialSchema for NonBlank {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(
                "[^\\t\\n\\u000b\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
            ))
            .into()
    }
}

impl ToSchema for NonBlank {}

/// [`NonBlank`] text of at most 100 characters (a name). A schema only.
pub struct ShortName;

impl PartialSchema for ShortName {
    fn schema() -> RefOr<Schema> {
        match NonBlank::schema() {
            RefOr::T(Schema::Object(mut object)) => {
                object.max_length = Some(100);
                object.into()
            }
            other => other,
        }
    }
}

impl ToSchema for ShortName {}

/// Adds what every operation shares, once the routes have added their paths.
pub fn finish(doc: &mut OpenApi) {
    {
        let components = doc.components.get_or_insert_with(Default::default);
        components.schemas.values_mut().for_each(close_tagged_variants);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components
            .schemas
            .insert(ErrorBody::name().into_owned(), ErrorBody::schema());
        doc.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        let about = doc.info.description.get_or_insert_with(String::new);
        about.push_str("\n\n");
        about.push_str(super::nul::RULE);
        for item in doc.paths.paths.values_mut() {
            let takes_id = item.parameters.iter().flatten().count() > 0;
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                add_errors(op, takes_id);
            }
        }
    }
}

/// serde reads an enum variant with data as an object of exactly one key (`{"text": "…"}`):
/// say so, since utoipa leaves the variant's object open to other keys.
fn close_tagged_variants(schema: &mut RefOr<Schema>) {
    let RefOr::T(Schema::OneOf(one_of)) = schema else {
        return;
    };
    for item in &mut one_of.items {
        if let RefOr::T(Schema::Object(variant)) = item
            && variant.properties.len() == 1
            && variant.required.len() == 1
            && variant.properties.contains_key(&variant.required[0])
        {
            variant.additional_properties =
                Some(Box::new(utoipa::openapi::schema::AdditionalProperties::FreeForm(false)));
        }
    }
}

/// The errors any operation can answer, each with the one error body.
fn add_errors(op: &mut Operation, path_item_params: bool) {
    let has_path_param = path_item_params
        || op
            .parameters
            .iter()
            .flatten()
            .any(|p| matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path));
    let mut errors = vec![
        ("400", "Bad request: a parameter or the body is invalid"),
        ("401", "Missing, unknown or revoked token"),
        ("403", "The token's role is too low"),
        ("500", "Internal error"),
        ("503", "The database or a plugin is unavailable"),
    ];
    if has_path_param {
        errors.push(("404", "No such resource"));
    }
    if op.request_body.is_some() {
        errors.extend([
            ("409", "Conflicts with the current state"),
            ("413", "The body is too large"),
            ("415", "Wrong content type"),
            ("422", "The body does not match the schema (unknown field, wrong type)"),
        ]);
    }
    for (status, description) in errors {
        op.responses.responses.entry(status.to_string()).or_insert_with(|| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(ErrorBody::name())))
                        .build(),
                )
                .build()
                .into()
        });
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    /// Every `$ref` of a value, depth first.
    fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r);
                }
                map.values().for_each(|v| refs(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_the_document_refers_to_exists() {
        let doc = serde_json::to_value(crate::server::openapi()).unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(found.len() > 50, "{} refs", found.len());
        let missing: Vec<&&str> = found
            .iter()
            .filter(|r| {
                let name = r.strip_prefix("#/components/schemas/").unwrap_or(r);
                doc["components"]["schemas"].get(name).is_none()
            })
            .collect();
        assert!(missing.is_empty(), "unresolved: {missing:?}");
    }

    /// The page size every list checks (1 to `MAX_LIMIT`) is in its schema.
    #[test]
    fn every_limit_parameter_states_its_range() {
        let doc = serde_json::to_value(crate::server::openapi()).unwrap();
        let mut limits = 0;
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                for param in op["parameters"].as_array().into_iter().flatten() {
                    if param["name"] == "limit" {
                        limits += 1;
                        let schema = &param["schema"];
                        assert_eq!(
                            (schema["minimum"].as_f64(), schema["maximum"].as_f64()),
                            (Some(1.0), Some(crate::server::page::MAX_LIMIT as f64)),
                            "{method} {path}: {schema}"
                        );
                    }
                }
            }
        }
        assert!(limits >= 10, "{limits} limit parameters");
    }
}
