#!/usr/bin/env python3
"""Builds the held-out sentiment sets in tests/data/sentiment/ from their
public sources (provenance and licenses in tests/data/README.md).

Usage:
  python3 prepare_datasets.py VADER_DIR GOEMOTIONS_TEST_TSV OUT_DIR

VADER_DIR is the unpacked `additional_resources/hutto_ICWSM_2014.tar.gz` of
github.com/cjhutto/vaderSentiment (the *_GroundTruth.txt files: id, mean
human rating in [-4, 4], text; tab-separated, CRLF). GOEMOTIONS_TEST_TSV is
`goemotions/data/test.tsv` of github.com/google-research/google-research
(text, comma-separated emotion ids, comment id; no header).

Writes one JSONL file per set, one object a line:
  {"id": str, "text": str, "rating": float}   (VADER sets: mean human rating)
  {"id": str, "text": str, "label": "positive"|"negative"}   (GoEmotions)
Rows keep their source order; nothing is sampled. The dev/test split is not
stored: it is computed from the id (see `split` in heldout.py).
"""

import json
import sys
from pathlib import Path

# GoEmotions' emotions.txt, in order (the ids in test.tsv index this list).
EMOTIONS = (
    "admiration amusement anger annoyance approval caring confusion curiosity "
    "desire disappointment disapproval disgust embarrassment excitement fear "
    "gratitude grief joy love nervousness optimism pride realization relief "
    "remorse sadness surprise neutral"
).split()
# GoEmotions' own data/sentiment_dict.json ("ambiguous" and neutral are dropped).
POSITIVE = set(
    "amusement excitement joy love desire optimism caring pride admiration gratitude relief approval".split()
)
NEGATIVE = set(
    "fear nervousness remorse embarrassment disappointment sadness grief disgust anger annoyance disapproval".split()
)

VADER_SETS = {
    "vader_tweets.jsonl": "tweets_GroundTruth.txt",
    "vader_amazon.jsonl": "amazonReviewSnippets_GroundTruth.txt",
    "vader_nyt.jsonl": "nytEditorialSnippets_GroundTruth.txt",
}


def vader_rows(path: Path):
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            ident, rating, text = line.split("\t", 2)
            yield {"id": ident, "text": text.strip(), "rating": float(rating)}


def goemotions_rows(path: Path):
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line:
                continue
            text, ids, ident = line.split("\t")
            emotions = {EMOTIONS[int(i)] for i in ids.split(",")}
            if emotions <= POSITIVE:
                label = "positive"
            elif emotions <= NEGATIVE:
                label = "negative"
            else:
                continue  # neutral, ambiguous or mixed
            yield {"id": ident, "text": text.strip(), "label": label}


def write(path: Path, rows) -> None:
    rows = list(rows)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{path}: {len(rows)} rows", file=sys.stderr)


def main() -> int:
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    vader_dir, goemotions, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    out.mkdir(parents=True, exist_ok=True)
    for name, source in VADER_SETS.items():
        write(out / name, vader_rows(vader_dir / source))
    write(out / "goemotions_reddit.jsonl", goemotions_rows(goemotions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
