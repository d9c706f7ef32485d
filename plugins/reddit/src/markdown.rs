//! Reddit's Markdown (a comment's `body`, a post's `selftext`, fetched with
//! `raw_json=1` so nothing is HTML-escaped) as plain text.
//!
//! Only what changes how text reads is removed: link syntax (the URL is kept
//! after the text), strong, strike-through and spoiler markers, quote and
//! heading markers, backslash escapes, and the few entities Reddit's editor
//! writes. A single `*` or `_` stays: it is as often a footnote or part of a
//! name as emphasis.

/// The plain text of `markdown`.
pub fn to_text(markdown: &str) -> String {
    let lines: Vec<String> = markdown
        .replace("\r\n", "\n")
        .lines()
        .map(|line| inline(block_marker(line)))
        .collect();
    lines.join("\n").trim().to_string()
}

/// `line` without leading quote (`>`, nested) and heading (`#`) markers.
fn block_marker(line: &str) -> &str {
    let mut rest = line.trim_start();
    while let Some(after) = rest.strip_prefix('>') {
        rest = after.trim_start();
    }
    let hashes = rest.bytes().take_while(|&b| b == b'#').count();
    if (1..=6).contains(&hashes) && rest[hashes..].starts_with(' ') {
        rest = rest[hashes..].trim_start();
    }
    rest
}

fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if let Some((text, url, len)) = link(rest) {
            let text = inline(text);
            if text.is_empty() || text == url {
                out.push_str(url);
            } else {
                out.push_str(&format!("{text} ({url})"));
            }
            rest = &rest[len..];
            continue;
        }
        if let Some(marker) = ["**", "__", "~~", ">!", "!<"].iter().find(|m| rest.starts_with(**m)) {
            rest = &rest[marker.len()..];
            continue;
        }
        if let Some((entity, replacement)) = ENTITIES.iter().find(|(e, _)| rest.starts_with(e)) {
            out.push_str(replacement);
            rest = &rest[entity.len()..];
            continue;
        }
        if c == '\\'
            && let Some(escaped) = rest[1..].chars().next().filter(|e| e.is_ascii_punctuation())
        {
            out.push(escaped);
            rest = &rest[1 + escaped.len_utf8()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

const ENTITIES: [(&str, &str); 5] = [
    // Reddit's editor writes a zero-width space to keep an empty paragraph.
    ("&#x200B;", ""),
    ("&nbsp;", " "),
    ("&amp;", "&"),
    ("&lt;", "<"),
    ("&gt;", ">"),
];

/// `[text](url)` at the start of `s`: its text, its URL and its length in bytes.
fn link(s: &str) -> Option<(&str, &str, usize)> {
    let inner = s.strip_prefix('[')?;
    let close = inner.find("](")?;
    let text = &inner[..close];
    if text.contains(['[', ']']) {
        return None;
    }
    let target = &inner[close + 2..];
    // URLs may hold balanced parentheses (Wikipedia links do).
    let mut depth = 0usize;
    for (i, b) in target.bytes().enumerate() {
        match b {
            b'(' => depth += 1,
            b')' if depth == 0 => {
                let url = target[..i].trim();
                // A title after the URL (`[t](url "title")`) is not shown.
                let url = url.split_once(' ').map_or(url, |(u, _)| u);
                return Some((text, url, 1 + close + 2 + i + 1));
            }
            b')' => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_link_targets() {
        assert_eq!(
            to_text("see [the FAQ](https://www.reddit.com/wiki/faq) now"),
            "see the FAQ (https://www.reddit.com/wiki/faq) now"
        );
        assert_eq!(to_text("[https://x.example](https://x.example)"), "https://x.example");
        assert_eq!(
            to_text("[Kernel](https://en.wikipedia.org/wiki/Kernel_(OS)) rocks"),
            "Kernel (https://en.wikipedia.org/wiki/Kernel_(OS)) rocks"
        );
        assert_eq!(
            to_text("[**bold** link](https://x.example \"title\")"),
            "bold link (https://x.example)"
        );
        assert_eq!(to_text("[not a link] (x)"), "[not a link] (x)");
        assert_eq!(to_text("[unclosed](https://x"), "[unclosed](https://x");
    }

    #[test]
    fn drops_markers_and_entities() {
        assert_eq!(
            to_text("> quoted\n>> nested\n\n## Heading\n**strong** ~~gone~~ >!spoiler!<"),
            "quoted\nnested\n\nHeading\nstrong gone spoiler"
        );
        assert_eq!(to_text("&#x200B;\n\nfish &amp; chips &lt;3&nbsp;"), "fish & chips <3");
        assert_eq!(to_text("1\\. not a list, \\*literal\\*"), "1. not a list, *literal*");
        assert_eq!(
            to_text("snake_case *and* #hashtag stay"),
            "snake_case *and* #hashtag stay"
        );
        assert_eq!(to_text("  émoji 🎉 \\é  "), "émoji 🎉 \\é");
    }
}
