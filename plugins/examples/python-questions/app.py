"""A socialcrm analyzer in Python: finds questions and support requests.

Built into a WebAssembly component with componentize-py against the
`analyzer` world of wit/v1 (see README.md). The host gives it each post's
text, kind and language only, and expects one analysis per post, in order.
"""

import re

from wit_world import exports
from wit_world.exports import analysis
from wit_world.imports import types

QUESTION_WORDS = ("how", "why", "what", "when", "where", "which", "who", "can", "does", "is", "are", "do")
SUPPORT = re.compile(r"\b(help|support|refund|broken|not working|doesn'?t work|can'?t log ?in|error)\b", re.I)


def labels(text: str) -> list[types.ScoredLabel]:
    found = []
    words = text.strip().lower().split()
    if "?" in text:
        found.append(types.ScoredLabel(name="question", confidence=0.9))
    elif words and words[0].strip("@,.!") in QUESTION_WORDS:
        found.append(types.ScoredLabel(name="question", confidence=0.6))
    if SUPPORT.search(text):
        found.append(types.ScoredLabel(name="support-request", confidence=0.7))
    return found


class Analysis(exports.Analysis):
    def describe(self) -> analysis.Descriptor:
        return analysis.Descriptor(
            produces=["intent"],
            description="Questions and support requests (an example analyzer written in Python)",
        )

    def analyze(self, inputs: list[analysis.AnalysisInput]) -> list[types.Analysis]:
        return [
            types.Analysis(sentiment=None, label=None, intents=labels(i.text), topics=[], language=i.language)
            for i in inputs
        ]
