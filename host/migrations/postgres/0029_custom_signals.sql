-- Custom signals and aspects (docs/insights.md): the signals analyzers
-- that export `signals` declare, what they report per post (kept on the
-- analysis, JSON), the brand's taxonomy they are given, and the per-post
-- rows the inbox filters and the trends read.
CREATE TABLE custom_signals (
    name TEXT NOT NULL,
    plugin TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- JSON: {"score": {"min", "max"}}, {"label": [...]} or {"labels": [...]}.
    kind TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (name, plugin)
);
ALTER TABLE analyses ADD COLUMN signals TEXT NOT NULL DEFAULT '[]';
ALTER TABLE analyses ADD COLUMN aspects TEXT NOT NULL DEFAULT '[]';

CREATE TABLE taxonomy (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    synonyms TEXT NOT NULL DEFAULT '[]',
    updated_at BIGINT NOT NULL
);

-- One row per post and custom signal (per label for a set of labels), from
-- the analysis insights read of each analyzer.
CREATE TABLE post_signals (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    plugin TEXT NOT NULL,
    name TEXT NOT NULL,
    score DOUBLE PRECISION,
    label TEXT,
    -- As a badge shows it: the label, or the score to 2 decimals.
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX post_signals_post ON post_signals (post_id);
CREATE INDEX post_signals_name ON post_signals (name, created_at);

-- One row per post and taxonomy entry it mentions, with the sentiment of
-- what it says of it.
CREATE TABLE post_aspects (
    post_id BIGINT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
    identity_id BIGINT NOT NULL,
    plugin TEXT NOT NULL,
    entry TEXT NOT NULL,
    sentiment DOUBLE PRECISION,
    created_at BIGINT NOT NULL
);
CREATE INDEX post_aspects_post ON post_aspects (post_id);
CREATE INDEX post_aspects_entry ON post_aspects (entry, created_at);
