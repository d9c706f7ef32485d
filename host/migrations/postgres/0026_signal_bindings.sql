-- Which analyzer supplies each built-in signal the insights read
-- (docs/insights.md, "Signals and bindings"): the one source of truth, so
-- no query names a plugin. A fresh install binds the bundled analyzers.
CREATE TABLE signal_bindings (
    signal TEXT PRIMARY KEY,
    analyzer TEXT NOT NULL,
    bound_by TEXT NOT NULL,
    bound_at BIGINT NOT NULL
);
INSERT INTO signal_bindings (signal, analyzer, bound_by, bound_at) VALUES
    ('sentiment', 'sentiment', 'install', 0),
    ('intents', 'intent', 'install', 0),
    ('topics', 'intent', 'install', 0);
