//! The approved message templates of the WhatsApp Business Account
//! (<https://developers.facebook.com/docs/graph-api/reference/whats-app-business-account/message_templates>):
//! `GET /{waba-id}/message_templates`, a page at a time with Graph's cursors.

use serde::Deserialize;
use socialcrm_sdk::http::Request;
use socialcrm_sdk::messaging::Template;
use socialcrm_sdk::{PluginError, ResultExt, log};

use crate::graph::call;
use crate::settings::Settings;

const FIELDS: &str = "name,language,category,components,status";
/// Templates per page: the most Graph hands out at once.
const PAGE_SIZE: &str = "100";
/// Pages read in one call, of the host's 20 requests: 1,000 templates, more
/// than an account keeps (WhatsApp allows 250 names, each in some languages).
pub const MAX_PAGES: usize = 10;

#[derive(Debug, Deserialize)]
pub struct Page {
    #[serde(default)]
    data: Vec<Entry>,
    paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    language: String,
    #[serde(default)]
    category: String,
    /// Asked for APPROVED only; checked again, should Graph ignore the filter.
    status: Option<String>,
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Debug, Deserialize)]
struct Component {
    #[serde(rename = "type")]
    kind: String,
    text: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Paging {
    cursors: Option<Cursors>,
    next: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Cursors {
    after: Option<String>,
}

impl Page {
    /// The approved templates of this page, with their body's text.
    pub fn templates(self) -> Vec<Template> {
        self.data
            .into_iter()
            .filter(|t| t.status.as_deref().is_none_or(|s| s.eq_ignore_ascii_case("APPROVED")))
            .map(|t| Template {
                body: t
                    .components
                    .into_iter()
                    .find(|c| c.kind.eq_ignore_ascii_case("BODY"))
                    .and_then(|c| c.text)
                    .unwrap_or_default(),
                name: t.name,
                language: t.language,
                category: t.category,
            })
            .collect()
    }

    /// The cursor of the next page, when Graph says there is one.
    pub fn after(&self) -> Option<String> {
        let paging = self.paging.as_ref()?;
        paging.next.as_ref()?;
        paging.cursors.as_ref()?.after.clone().filter(|a| !a.is_empty())
    }
}

pub fn list(settings: &Settings) -> Result<Vec<Template>, PluginError> {
    const WHAT: &str = "listing the message templates";
    let mut templates = Vec::new();
    let mut after: Option<String> = None;
    for _ in 0..MAX_PAGES {
        // The cursor, not `paging.next`: that URL may carry a token in its query.
        let mut request = Request::get(format!("{}/{}/message_templates", settings.graph, settings.waba_id))
            .query("status", "APPROVED")
            .query("fields", FIELDS)
            .query("limit", PAGE_SIZE);
        if let Some(after) = &after {
            request = request.query("after", after);
        }
        let page: Page = call(request, WHAT)?.json().context(WHAT)?;
        after = page.after();
        templates.extend(page.templates());
        if after.is_none() {
            return Ok(templates);
        }
    }
    log::warn(&format!(
        "{WHAT}: stopped after {MAX_PAGES} pages ({} templates); the rest are not offered",
        templates.len()
    ));
    Ok(templates)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_gives_approved_templates_and_the_next_cursor() {
        // As the message_templates reference answers it.
        let body = r#"{"data":[
            {"name":"order_update","language":"en_US","status":"APPROVED","category":"UTILITY","id":"1",
             "components":[{"type":"HEADER","format":"TEXT","text":"Your order"},
                           {"type":"BODY","text":"Hi {{1}}, order {{2}} is on its way.","example":{"body_text":[["Ann","A-1001"]]}},
                           {"type":"FOOTER","text":"Acme"}]},
            {"name":"seasonal_promotion","language":"de","status":"APPROVED","category":"MARKETING","id":"2",
             "components":[{"type":"BUTTONS","buttons":[{"type":"QUICK_REPLY","text":"Stop"}]}]},
            {"name":"draft","language":"en_US","status":"PENDING","category":"MARKETING","id":"3","components":[]}],
            "paging":{"cursors":{"before":"QVFIUb","after":"QVFIUa"},"next":"https://graph.facebook.com/v21.0/102290129340398/message_templates?after=QVFIUa"}}"#;
        let page: Page = serde_json::from_str(body).unwrap();
        assert_eq!(page.after().as_deref(), Some("QVFIUa"));
        let templates = page.templates();
        assert_eq!(templates.len(), 2);
        assert_eq!(
            (
                &templates[0].name[..],
                &templates[0].language[..],
                &templates[0].category[..],
                &templates[0].body[..]
            ),
            (
                "order_update",
                "en_US",
                "UTILITY",
                "Hi {{1}}, order {{2}} is on its way."
            )
        );
        assert_eq!(templates[1].body, "", "a template without a body has none");
        // The last page: cursors, no `next`.
        let last: Page =
            serde_json::from_str(r#"{"data":[],"paging":{"cursors":{"before":"a","after":"b"}}}"#).unwrap();
        assert_eq!(last.after(), None);
        let bare: Page = serde_json::from_str(r#"{"data":[]}"#).unwrap();
        assert_eq!(bare.after(), None);
    }
}
