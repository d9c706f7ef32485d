//! Mastodon's HTML (`content`, `note`, profile field values) as plain text.
//!
//! Mastodon sanitises what it serves to a small set of tags, so a tag scanner
//! is enough: paragraphs become blank lines, `<br>` a newline, other tags go
//! and their text stays. Link text keeps its `invisible` spans, which restores
//! the full URL Mastodon shortens for display.

/// The plain text of `html`.
pub fn to_text(html: &str) -> String {
    let mut out = Text::default();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        out.push_text(&rest[..lt]);
        let after = &rest[lt + 1..];
        if let Some(comment) = after.strip_prefix("!--") {
            rest = comment.find("-->").map_or("", |end| &comment[end + 3..]);
            continue;
        }
        // A `<` that opens no tag ("a < b" from a sloppy server) is text.
        if !after.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '!') {
            out.push_text("<");
            rest = after;
            continue;
        }
        let Some(end) = tag_end(after) else {
            // An unclosed tag at the end: drop it, as a browser would.
            rest = "";
            break;
        };
        out.tag(&after[..end]);
        rest = &after[end + 1..];
    }
    out.push_text(rest);
    out.finish()
}

/// The index of the `>` closing a tag, skipping quoted attribute values.
fn tag_end(tag: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in tag.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

/// A line break owed before the next visible character.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
enum Break {
    #[default]
    None,
    Line,
    Paragraph,
}

#[derive(Default)]
struct Text {
    out: String,
    pending: Break,
    space: bool,
}

impl Text {
    fn tag(&mut self, tag: &str) {
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match name.as_str() {
            "br" => {
                self.out.push('\n');
                self.pending = Break::None;
                self.space = false;
            }
            "p" | "div" | "blockquote" | "pre" | "ul" | "ol" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                self.pending = self.pending.max(Break::Paragraph);
            }
            "li" => self.pending = self.pending.max(Break::Line),
            _ => {}
        }
    }

    fn push_text(&mut self, text: &str) {
        for c in decode_entities(text).chars() {
            if c.is_whitespace() {
                // HTML collapses runs of whitespace, newlines included.
                self.space = !self.out.is_empty() && !self.out.ends_with('\n');
                continue;
            }
            if self.pending != Break::None && !self.out.is_empty() {
                let kept = self.out.trim_end_matches(' ').len();
                self.out.truncate(kept);
                self.out
                    .push_str(if self.pending == Break::Paragraph { "\n\n" } else { "\n" });
                self.space = false;
            }
            self.pending = Break::None;
            if self.space && !self.out.ends_with('\n') {
                self.out.push(' ');
            }
            self.space = false;
            self.out.push(c);
        }
    }

    fn finish(self) -> String {
        self.out.trim().to_string()
    }
}

/// Decodes character references: the named ones Mastodon emits and every
/// numeric one. Anything unrecognised stays as written.
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        // Entity names are short; a far `;` belongs to something else.
        let decoded = after
            .bytes()
            .take(12)
            .position(|b| b == b';')
            .and_then(|semi| entity(&after[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    let numeric = |digits: &str, radix| u32::from_str_radix(digits, radix).ok().and_then(char::from_u32);
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some(' '),
        _ => match name.strip_prefix('#') {
            Some(hex) if hex.starts_with(['x', 'X']) => numeric(&hex[1..], 16),
            Some(dec) => numeric(dec, 10),
            None => None,
        }
        .filter(|c| *c != '\0'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_line_breaks() {
        assert_eq!(
            to_text("<p>one</p><p>two<br>three<br />four</p>"),
            "one\n\ntwo\nthree\nfour"
        );
        assert_eq!(to_text("<p>a<br><br>b</p>"), "a\n\nb");
        assert_eq!(to_text("<p>a</p>\n<p>b</p>"), "a\n\nb");
        assert_eq!(to_text("<ul><li>x</li><li>y</li></ul><p>z</p>"), "x\ny\n\nz");
        assert_eq!(to_text(""), "");
        assert_eq!(to_text("plain text"), "plain text");
    }

    #[test]
    fn mentions_and_links_keep_their_text() {
        let mention = r#"<p><span class="h-card" translate="no"><a href="https://icosahedron.website/@halcy" class="u-url mention" rel="nofollow noopener" target="_blank">@<span>halcy</span></a></span> you&#39;re a doo-doo head</p>"#;
        assert_eq!(to_text(mention), "@halcy you're a doo-doo head");
        let link = r#"<p><a href="https://www.shadertoy.com/view/7X3SRB" target="_blank" rel="nofollow noopener" translate="no"><span class="invisible">https://www.</span><span class="">shadertoy.com/view/7X3SRB</span><span class="invisible"></span></a></p>"#;
        assert_eq!(to_text(link), "https://www.shadertoy.com/view/7X3SRB");
        assert_eq!(
            to_text(r#"<a href="https://x.org/?a=1&amp;b=2" title="a > b">x.org</a>"#),
            "x.org"
        );
    }

    #[test]
    fn entities_are_decoded_once() {
        assert_eq!(
            to_text("&quot;5 &lt; 6&quot; &amp; &#39;7 &gt; 3&#x27; &#128512; &amp;lt;"),
            "\"5 < 6\" & '7 > 3' \u{1F600} &lt;"
        );
        assert_eq!(
            to_text("AT&T; fish &chips; &#0; &#xZZ;"),
            "AT&T; fish &chips; &#0; &#xZZ;"
        );
        assert_eq!(to_text("a&nbsp;&nbsp;b"), "a b");
        assert_eq!(to_text("&amp;xéééé &eacute;"), "&xéééé &eacute;");
    }

    #[test]
    fn whitespace_collapses_and_stray_markup_is_harmless() {
        assert_eq!(to_text("<p>  a \n  b  </p>"), "a b");
        assert_eq!(to_text("a < b and c <3"), "a < b and c <3");
        assert_eq!(to_text("a <!-- hidden --> b"), "a b");
        assert_eq!(to_text("text <unclosed"), "text");
        assert_eq!(to_text("<br><p></p>lead"), "lead");
    }
}
