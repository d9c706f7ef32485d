//! Prints the score of each line of standard input, one per line, for the
//! evaluation scripts in `eval/`:
//! `cargo run --release -p sentiment --example score < texts.txt`.

use std::io::{BufRead, BufWriter, Write};

fn main() -> std::io::Result<()> {
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.lines() {
        writeln!(out, "{}", sentiment::scorer::analyze(&line?).score)?;
    }
    out.flush()
}
