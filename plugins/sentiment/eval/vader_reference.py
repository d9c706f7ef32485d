#!/usr/bin/env python3
"""Reference accuracy and speed of vaderSentiment 3.3.2 on a labelled JSONL file.

Usage: python3 vader_reference.py FILE.jsonl
Each line of FILE is {"source": str, "text": str, "label": "positive"|"negative"}.
A text counts as predicted positive when compound >= 0.0 (the same convention
as the Rust scorer, so neutral texts count as positive). Prints one JSON object:
{"overall": acc, "per_source": {source: acc}, "texts_per_second": n}
where the timing covers only the scoring loop. Needs `pip install vaderSentiment==3.3.2`.
"""

import json
import sys
import time

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} FILE.jsonl", file=sys.stderr)
        return 2
    rows = []
    with open(sys.argv[1], encoding="utf-8") as f:
        for line in f:
            if line.strip():
                rows.append(json.loads(line))
    if not rows:
        print("no rows", file=sys.stderr)
        return 1

    analyzer = SentimentIntensityAnalyzer()
    texts = [r["text"] for r in rows]
    start = time.perf_counter()
    scores = [analyzer.polarity_scores(t)["compound"] for t in texts]
    elapsed = time.perf_counter() - start

    hits: dict[str, list[int]] = {}
    for row, score in zip(rows, scores):
        predicted = "positive" if score >= 0.0 else "negative"
        tally = hits.setdefault(row["source"], [0, 0])
        tally[0] += predicted == row["label"]
        tally[1] += 1
    correct = sum(c for c, _ in hits.values())
    result = {
        "overall": correct / len(rows),
        "per_source": {s: c / n for s, (c, n) in sorted(hits.items())},
        "texts_per_second": len(rows) / elapsed if elapsed > 0 else None,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
