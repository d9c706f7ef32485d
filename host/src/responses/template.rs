//! Template syntax: text with `{{variable}}` placeholders, each optionally
//! with a default for recipients that have no value: `{{variable|default}}`
//! (spaces around the name and the default are ignored).
//! Every placeholder must name a known [`Variable`], so a typo is refused
//! when the template is saved, not discovered per recipient.

use std::collections::BTreeMap;

use serde::Serialize;

/// What a placeholder can refer to; values are looked up per post (`context.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(into = "&'static str")]
pub enum Variable {
    AuthorHandle,
    AuthorName,
    ContactName,
    ContactFirstName,
    OrderReference,
    OrderProduct,
    ChannelName,
    PostExcerpt,
}

impl Variable {
    pub const ALL: [Variable; 8] = [
        Variable::AuthorHandle,
        Variable::AuthorName,
        Variable::ContactName,
        Variable::ContactFirstName,
        Variable::OrderReference,
        Variable::OrderProduct,
        Variable::ChannelName,
        Variable::PostExcerpt,
    ];

    /// The name written between the braces.
    pub fn name(self) -> &'static str {
        match self {
            Variable::AuthorHandle => "author.handle",
            Variable::AuthorName => "author.name",
            Variable::ContactName => "contact.name",
            Variable::ContactFirstName => "contact.first_name",
            Variable::OrderReference => "order.reference",
            Variable::OrderProduct => "order.product",
            Variable::ChannelName => "channel.name",
            Variable::PostExcerpt => "post.excerpt",
        }
    }

    /// Whether its value comes from the CRM (the contact, their orders): it
    /// renders only for an author confirmed as that contact.
    pub fn reveals_crm(self) -> bool {
        matches!(
            self,
            Variable::ContactName | Variable::ContactFirstName | Variable::OrderReference | Variable::OrderProduct
        )
    }

    /// One line for help texts.
    pub fn describe(self) -> &'static str {
        match self {
            Variable::AuthorHandle => "the post author's handle on the network",
            Variable::AuthorName => "the post author's display name",
            Variable::ContactName => "the name of the CRM contact the author is linked to (confirmed link)",
            Variable::ContactFirstName => "the first word of the contact's name",
            Variable::OrderReference => "the reference of the contact's latest purchase or subscription",
            Variable::OrderProduct => "the product of the contact's latest purchase or subscription",
            Variable::ChannelName => "the channel account's name in socialcrm",
            Variable::PostExcerpt => "the start of the post being answered",
        }
    }

    pub fn from_name(name: &str) -> Option<Variable> {
        Variable::ALL.into_iter().find(|v| v.name() == name)
    }
}

impl From<Variable> for &'static str {
    fn from(v: Variable) -> Self {
        v.name()
    }
}

impl std::fmt::Display for Variable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{{{{{}}}}}", self.name())
    }
}

/// The values one recipient has; a variable without one is absent.
pub type Values = BTreeMap<Variable, String>;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template uses an unknown variable {{{{{name}}}}}; known: {known}", known = known())]
    UnknownVariable { name: String },
    #[error("the template's `{{{{` at character {at} is never closed by `}}}}`")]
    Unclosed { at: usize },
}

fn known() -> String {
    Variable::ALL.map(Variable::name).join(", ")
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Segment {
    Text(String),
    Var { var: Variable, default: Option<String> },
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    segments: Vec<Segment>,
}

impl Template {
    pub fn parse(body: &str) -> Result<Template, TemplateError> {
        let mut segments = Vec::new();
        let mut rest = body;
        while let Some(open) = rest.find("{{") {
            if open > 0 {
                segments.push(Segment::Text(rest[..open].to_string()));
            }
            let after = &rest[open + 2..];
            let close = after.find("}}").ok_or_else(|| TemplateError::Unclosed {
                at: body[..body.len() - rest.len() + open].chars().count(),
            })?;
            let inner = &after[..close];
            let (name, default) = match inner.split_once('|') {
                Some((name, default)) => (name.trim(), Some(default.trim().to_string())),
                None => (inner.trim(), None),
            };
            let var = Variable::from_name(name).ok_or_else(|| TemplateError::UnknownVariable { name: name.into() })?;
            segments.push(Segment::Var { var, default });
            rest = &after[close + 2..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Text(rest.to_string()));
        }
        Ok(Template { segments })
    }

    /// The variables used, each once, in order of first use.
    pub fn variables(&self) -> Vec<Variable> {
        let mut used = Vec::new();
        for segment in &self.segments {
            if let Segment::Var { var, .. } = segment
                && !used.contains(var)
            {
                used.push(*var);
            }
        }
        used
    }

    /// The text for one recipient, or the first variable that has neither a
    /// value nor a default.
    pub fn render(&self, values: &Values) -> Result<String, Variable> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Text(text) => out.push_str(text),
                Segment::Var { var, default } => match values.get(var).or(default.as_ref()) {
                    Some(value) => out.push_str(value),
                    None => return Err(*var),
                },
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_values_and_defaults() {
        let t = Template::parse("Hi {{ contact.first_name | there }}, about {{order.reference}}!").unwrap();
        assert_eq!(t.variables(), [Variable::ContactFirstName, Variable::OrderReference]);
        let mut values = Values::from([(Variable::OrderReference, "A-17".to_string())]);
        assert_eq!(t.render(&values).unwrap(), "Hi there, about A-17!");
        values.insert(Variable::ContactFirstName, "Maya".into());
        assert_eq!(t.render(&values).unwrap(), "Hi Maya, about A-17!");
        values.remove(&Variable::OrderReference);
        assert_eq!(t.render(&values), Err(Variable::OrderReference));
    }

    #[test]
    fn refuses_unknown_and_unclosed_placeholders() {
        let err = Template::parse("Hi {{contact.nickname}}").unwrap_err();
        assert_eq!(
            err,
            TemplateError::UnknownVariable {
                name: "contact.nickname".into()
            }
        );
        assert!(
            err.to_string()
                .starts_with("the template uses an unknown variable {{contact.nickname}}; known: author.handle")
        );
        assert_eq!(
            Template::parse("é {{author.handle").unwrap_err(),
            TemplateError::Unclosed { at: 2 }
        );
    }

    #[test]
    fn plain_text_is_a_template() {
        let t = Template::parse("We're on it. {single} braces stay").unwrap();
        assert!(t.variables().is_empty());
        assert_eq!(t.render(&Values::new()).unwrap(), "We're on it. {single} braces stay");
    }
}
