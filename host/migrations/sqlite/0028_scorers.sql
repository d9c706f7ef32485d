-- Predictions from scorer plugins (docs/scorers.md). The churn risk in
-- contact_scores.churn is now the bound scorer's: churn_factors is its
-- explanation (a JSON list of {feature, contribution, note}), churn_scorer
-- the `name version` that made it. posts_90d is one more feature.
ALTER TABLE contact_scores ADD COLUMN churn_factors TEXT NOT NULL DEFAULT '[]';
ALTER TABLE contact_scores ADD COLUMN churn_scorer TEXT;
ALTER TABLE contact_scores ADD COLUMN posts_90d INTEGER NOT NULL DEFAULT 0;
-- Which scorer makes each prediction, beside the analyzers of each signal.
INSERT INTO signal_bindings (signal, analyzer, bound_by, bound_at) VALUES ('churn-risk', 'churn', 'install', 0);
-- The churn risk of a post's author's contact when the post was scored: a
-- part of its inbox priority.
ALTER TABLE post_scores ADD COLUMN author_churn REAL NOT NULL DEFAULT 0;
