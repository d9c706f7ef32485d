#!/usr/bin/env python3
"""Accuracy and Pearson r of vaderSentiment 3.3.2 (and, with --ours, of this
plugin's scorer) on the held-out sets, per set and dev/test split.

Usage (from the workspace root):
  pip install vaderSentiment==3.3.2
  python3 plugins/sentiment/eval/heldout.py [--ours]

--ours also scores every text with this crate's scorer, through
`cargo run --release -p sentiment --example score`.

Sets (files under tests/data/, provenance in tests/data/README.md):
  goemotions_reddit  Reddit comments, label positive/negative
  vader_tweets       tweet-like texts, mean human rating in [-4, 4]
  vader_amazon       product review snippets, mean human rating
  vader_nyt          opinion news snippets, mean human rating
  uci_amazon, uci_imdb, uci_yelp   the UCI sentences, by source, label

Metrics, the same for both scorers (tests/accuracy.rs mirrors them):
  accuracy   a text is predicted positive when its score >= 0 (so texts
             without sentiment count as positive); the truth is the label, or
             the sign of the rating (rows rated exactly 0 are left out)
  pearson    Pearson r between the score (VADER's compound) and the rating;
             for labelled sets between the score and +1/-1 (point-biserial)
Split: a row is dev when the top bit of the 64-bit FNV-1a hash of its key
(the "id", or the text for the UCI sentences, which have no id), passed
through MurmurHash3's finaliser, is 0, and test otherwise. Prints a table, and the VADER constants for tests/accuracy.rs.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ROOT = Path(__file__).resolve().parents[3]
DATA = ROOT / "tests" / "data"
SETS = [
    ("goemotions_reddit", "sentiment/goemotions_reddit.jsonl", None),
    ("vader_tweets", "sentiment/vader_tweets.jsonl", None),
    ("vader_amazon", "sentiment/vader_amazon.jsonl", None),
    ("vader_nyt", "sentiment/vader_nyt.jsonl", None),
    ("uci_amazon", "uci_sentences.jsonl", "amazon"),
    ("uci_imdb", "uci_sentences.jsonl", "imdb"),
    ("uci_yelp", "uci_sentences.jsonl", "yelp"),
]


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def mix(h: int) -> int:
    """MurmurHash3's 64-bit finaliser: FNV-1a alone leaves the top bits of
    short keys ("1", "2", ...) poorly mixed."""
    m = 0xFFFFFFFFFFFFFFFF
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & m
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & m
    return h ^ (h >> 33)


def split(row: dict) -> str:
    key = row.get("id", row["text"])
    return "dev" if mix(fnv1a64(key.encode("utf-8"))) >> 63 == 0 else "test"


def truth(row: dict) -> float:
    """The rating, or +1/-1 for a label."""
    if "rating" in row:
        return float(row["rating"])
    return 1.0 if row["label"] == "positive" else -1.0


def metrics(rows: list, scores: list) -> tuple:
    polar = [(truth(r) > 0, s >= 0.0) for r, s in zip(rows, scores) if truth(r) != 0]
    accuracy = sum(t == p for t, p in polar) / len(polar)
    xs, ys = scores, [truth(r) for r in rows]
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    return accuracy, sxy / math.sqrt(sxx * syy)


def load(path: str, source) -> list:
    rows = []
    with open(DATA / path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                if source is None or row.get("source") == source:
                    rows.append(row)
    return rows


def ours(texts: list) -> list:
    # One text per line: line breaks inside a text become spaces here (the
    # Rust test scores the text as it is; the sets have none).
    lines = "".join(t.replace("\r", " ").replace("\n", " ") + "\n" for t in texts)
    out = subprocess.run(
        ["cargo", "run", "--quiet", "--release", "-p", "sentiment", "--example", "score"],
        input=lines.encode("utf-8"),
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout.decode()
    return [float(x) for x in out.split()]


def main() -> int:
    with_ours = "--ours" in sys.argv[1:]
    analyzer = SentimentIntensityAnalyzer()
    header = f"{'set':<18} {'split':<5} {'rows':>5} {'VADER acc':>9} {'VADER r':>8}"
    if with_ours:
        header += f" {'ours acc':>9} {'ours r':>8}"
    print(header)
    constants = []
    for name, path, source in SETS:
        rows = load(path, source)
        vader = [analyzer.polarity_scores(r["text"])["compound"] for r in rows]
        mine = ours([r["text"] for r in rows]) if with_ours else None
        for part in ("dev", "test"):
            idx = [i for i, r in enumerate(rows) if split(r) == part]
            sub = [rows[i] for i in idx]
            va, vr = metrics(sub, [vader[i] for i in idx])
            line = f"{name:<18} {part:<5} {len(sub):>5} {va:>9.4f} {vr:>8.4f}"
            if mine is not None:
                oa, orr = metrics(sub, [mine[i] for i in idx])
                line += f" {oa:>9.4f} {orr:>8.4f}"
                line += "" if (oa >= va and orr >= vr) else "  <"
            print(line)
            if part == "test":
                constants.append(f'    ("{name}", {len(sub)}, {va:.4f}, {vr:.4f}),')
    print("\n// (set, test rows, VADER accuracy, VADER Pearson r) for tests/accuracy.rs")
    print("\n".join(constants))
    return 0


if __name__ == "__main__":
    sys.exit(main())
