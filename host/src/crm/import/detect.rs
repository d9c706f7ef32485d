//! What a CSV file is before its rows are read: its encoding (a BOM says;
//! otherwise UTF-8 when it decodes as UTF-8, else Windows-1252, which Excel
//! writes on Windows), its delimiter (`,` `;` tab or `|`, the one that splits
//! the first lines into the same number of fields), and its header row (the
//! first row with that many fields: a title line or Excel's `sep=;` before it
//! is skipped).

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};
use serde::Serialize;

/// Lines looked at to find the delimiter and the header.
const SAMPLE_LINES: usize = 20;
const DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How the file was read.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = CsvFormat)]
pub struct Format {
    /// `UTF-8`, `UTF-8 with BOM`, `UTF-16LE`, `UTF-16BE` or `windows-1252`.
    pub encoding: String,
    /// One of `,` `;` `\t` `|`.
    pub delimiter: String,
    /// The header row's line (1 unless lines before it were skipped).
    pub header_line: u64,
}

/// The file's text and its encoding's name.
pub fn decode(bytes: &[u8]) -> (Cow<'_, str>, String) {
    if let Some((encoding, bom)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        let name = if encoding == UTF_8 {
            "UTF-8 with BOM".to_string()
        } else {
            encoding.name().to_string()
        };
        return (text, name);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => (Cow::Borrowed(text), "UTF-8".into()),
        Err(_) => (WINDOWS_1252.decode_without_bom_handling(bytes).0, "windows-1252".into()),
    }
}

/// The delimiter and the header row's line; `None` when the text has no row.
pub fn layout(text: &str) -> Option<(u8, u64)> {
    let first = text.lines().next()?;
    // Excel's hint line: `sep=;`.
    if let Some(d) = first.trim().strip_prefix("sep=").and_then(|d| d.bytes().next())
        && first.trim().len() == 5
    {
        return Some((d, 2));
    }
    let end = text
        .match_indices('\n')
        .nth(SAMPLE_LINES - 1)
        .map_or(text.len(), |(i, _)| i + 1);
    let sample = &text[..end];
    // Per delimiter: the field count most rows have, how many have it, and the first such row.
    let best = DELIMITERS
        .iter()
        .filter_map(|&d| {
            let counts = field_counts(sample, d);
            let modal = mode(counts.iter().map(|&(_, n)| n))?;
            let rows = counts.iter().filter(|&&(_, n)| n == modal).count();
            let header = counts.iter().find(|&&(_, n)| n == modal)?.0;
            Some((d, modal, rows, header))
        })
        .filter(|&(_, modal, _, _)| modal > 1)
        .max_by_key(|&(_, modal, rows, _)| (rows, modal));
    match best {
        Some((d, _, _, header)) => Some((d, header)),
        // One column: any delimiter reads it; the header is the first non-blank line.
        None => {
            let header = text.lines().position(|l| !l.trim().is_empty())?;
            Some((b',', header as u64 + 1))
        }
    }
}

/// (line, fields) of each non-blank record of `sample`.
fn field_counts(sample: &str, delimiter: u8) -> Vec<(u64, usize)> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(sample.as_bytes());
    let mut lines = Lines::new(sample);
    reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| r.iter().any(|f| !f.trim().is_empty()))
        .map(|r| (lines.of(r.position()), r.len()))
        .collect()
}

/// The file line where a record starts. (The csv crate's own line numbers
/// lag after a CRLF or a blank line: it counts those as it skips them, after
/// noting where the record starts.)
pub struct Lines<'t> {
    text: &'t [u8],
    byte: usize,
    line: u64,
}

impl<'t> Lines<'t> {
    pub fn new(text: &'t str) -> Lines<'t> {
        Lines {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The line of the record at `position` (0 when there is none). Cheap
    /// when positions come in file order.
    pub fn of(&mut self, position: Option<&csv::Position>) -> u64 {
        let Some(position) = position else {
            return 0;
        };
        let mut start = (position.byte() as usize).min(self.text.len());
        while self.text.get(start).is_some_and(|b| matches!(b, b'\r' | b'\n')) {
            start += 1;
        }
        if start < self.byte {
            (self.byte, self.line) = (0, 1);
        }
        self.line += self.text[self.byte..start].iter().filter(|&&b| b == b'\n').count() as u64;
        self.byte = start;
        self.line
    }
}

/// The most frequent value (the larger on a tie).
fn mode(values: impl Iterator<Item = usize>) -> Option<usize> {
    let mut counts = std::collections::BTreeMap::new();
    for v in values {
        *counts.entry(v).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|&(v, n)| (n, v)).map(|(v, _)| v)
}

/// The delimiter as the report shows it.
pub fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "\\t".into(),
        d => char::from(d).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        assert_eq!(
            decode(b"id,name\nC1,Ren\xc3\xa9e\n"),
            ("id,name\nC1,Renée\n".into(), "UTF-8".into())
        );
        assert_eq!(
            decode(b"\xef\xbb\xbfid,name\nC1,Ren\xc3\xa9e\n"),
            ("id,name\nC1,Renée\n".into(), "UTF-8 with BOM".into())
        );
        assert_eq!(
            decode(b"id;name\nC1;Ren\xe9e \x80\n"),
            ("id;name\nC1;Renée €\n".into(), "windows-1252".into())
        );
        assert_eq!(decode(b"\xff\xfei\0d\0").0, "id");
    }

    #[test]
    fn lines_count_crlf_and_blank_lines() {
        let text = "a,b\r\nc,d\r\n\r\n\"e\r\nx\",f\r\ng,h";
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let mut lines = Lines::new(text);
        let found: Vec<u64> = reader.records().map(|r| lines.of(r.unwrap().position())).collect();
        assert_eq!(found, [1, 2, 4, 6]);
    }

    #[test]
    fn delimiters_and_headers() {
        assert_eq!(layout("id,name\nC1,Ann\n"), Some((b',', 1)));
        assert_eq!(layout("id;name;note\nC1;Ann;a, b\nC2;Bob;c, d, e\n"), Some((b';', 1)));
        assert_eq!(layout("id\tname\nC1\tAnn, Bea\n"), Some((b'\t', 1)));
        assert_eq!(layout("id|name\nC1|Ann\n"), Some((b'|', 1)));
        assert_eq!(layout("sep=;\nid;name\nC1;Ann\n"), Some((b';', 2)));
        assert_eq!(
            layout("Contacts report\n\nid,name,email\nC1,Ann,a@x.example\n"),
            Some((b',', 3))
        );
        assert_eq!(layout("\nid\nC1\n"), Some((b',', 2)));
        assert_eq!(layout("Report\r\n\r\nid,name\r\nC1,Ann\r\n"), Some((b',', 3)));
        assert_eq!(layout(""), None);
    }
}
