//! The `Link` header (RFC 8288): `<url>; rel="next"; title="a, b", <url>; rel=prev`,
//! the way networks hand out the next and previous pages.

/// The URL of the first link in `header` whose `rel` holds `rel` (relation
/// types compare case-insensitively; one `rel` may hold several, space
/// separated). `None` when no link has it or the header is malformed there.
pub fn link<'a>(header: &'a str, rel: &str) -> Option<&'a str> {
    let mut rest = header;
    loop {
        // Empty list elements (`, ,`) are allowed and skipped.
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        let (url, after) = rest.strip_prefix('<')?.split_once('>')?;
        rest = after;
        // Only a link's first `rel` counts (RFC 8288, section 3.3).
        let mut relations = None;
        while let Some(param) = rest.trim_start().strip_prefix(';') {
            let (name, value, after) = parameter(param)?;
            rest = after;
            if relations.is_none() && name.eq_ignore_ascii_case("rel") {
                relations = Some(value);
            }
        }
        let wanted = relations.is_some_and(|value| value.split_ascii_whitespace().any(|r| r.eq_ignore_ascii_case(rel)));
        if wanted {
            return Some(url);
        }
        rest = rest.trim_start();
        if !rest.starts_with(',') {
            return None;
        }
    }
}

/// `name[=value]` at the start of `text` (after its `;`): the name, the
/// value unquoted (empty when there is none), and what follows.
fn parameter(text: &str) -> Option<(&str, String, &str)> {
    let text = text.trim_start();
    let name_end = text.find(['=', ';', ',', ' ', '\t']).unwrap_or(text.len());
    let (name, rest) = text.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let Some(rest) = rest.trim_start().strip_prefix('=') else {
        return Some((name, String::new(), rest));
    };
    let rest = rest.trim_start();
    if let Some(quoted) = rest.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = quoted.char_indices();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' => return Some((name, value, &quoted[at + 1..])),
                '\\' => value.push(chars.next()?.1),
                c => value.push(c),
            }
        }
        // An unterminated quoted string.
        return None;
    }
    let value_end = rest.find([';', ',', ' ', '\t']).unwrap_or(rest.len());
    let (value, rest) = rest.split_at(value_end);
    Some((name, value.to_string(), rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MASTODON: &str = "<https://m.example/api/v1/notifications?limit=40&max_id=999999990>; rel=\"next\", \
                            <https://m.example/api/v1/notifications?limit=40&min_id=1000000002>; rel=\"prev\"";

    #[test]
    fn finds_each_link_by_its_rel() {
        assert_eq!(
            link(MASTODON, "next"),
            Some("https://m.example/api/v1/notifications?limit=40&max_id=999999990")
        );
        assert_eq!(
            link(MASTODON, "prev"),
            Some("https://m.example/api/v1/notifications?limit=40&min_id=1000000002")
        );
        assert_eq!(link(MASTODON, "last"), None);
    }

    #[test]
    fn reads_tokens_quoted_strings_and_several_relations() {
        assert_eq!(
            link("<https://a.example/7>; rel=prev", "prev"),
            Some("https://a.example/7")
        );
        assert_eq!(
            link("</page/2>;REL = \"Next\"", "next"),
            Some("/page/2"),
            "relative, spaced, any case"
        );
        let header = r#"<https://a.example/1>; title="one, two; three \"x\""; rel="first prev", <https://a.example/9>; rel="next last""#;
        assert_eq!(link(header, "prev"), Some("https://a.example/1"));
        assert_eq!(link(header, "first"), Some("https://a.example/1"));
        assert_eq!(link(header, "last"), Some("https://a.example/9"));
        assert_eq!(
            link("<https://a.example/x,y>; anchor; rel=next", "next"),
            Some("https://a.example/x,y"),
            "a comma inside the URL, a parameter without a value"
        );
        assert_eq!(
            link(" , <https://a.example/2>; rel=next ,", "next"),
            Some("https://a.example/2")
        );
    }

    #[test]
    fn only_the_first_rel_of_a_link_counts() {
        assert_eq!(link("<https://a.example/1>; rel=next; rel=prev", "prev"), None);
        assert_eq!(
            link("<https://a.example/1>; rel=next; rel=prev", "next"),
            Some("https://a.example/1")
        );
    }

    #[test]
    fn malformed_headers_find_nothing() {
        for bad in [
            "",
            "not a link header",
            "<https://a.example/a?min_id=7",
            "<https://a.example/1>; rel=\"prev",
            "<https://a.example/1>; =prev",
            "https://a.example/1; rel=prev",
        ] {
            assert_eq!(link(bad, "prev"), None, "{bad}");
        }
        assert_eq!(
            link(
                "<https://a.example/1>; rel=next junk, <https://a.example/2>; rel=prev",
                "prev"
            ),
            None,
            "no link is read past a malformed one"
        );
        assert_eq!(link("<https://a.example/1>; rel=prevnext", "prev"), None);
    }
}
