-- A binding may hold for one channel account (`channel:NAME`) or one post
-- language as the network reports it (`language:de`) as well as everywhere
-- (''): insights read, per post, the analyzer bound for its channel, else for
-- its language, else everywhere (docs/insights.md, "Signals and bindings").
ALTER TABLE signal_bindings ADD COLUMN scope TEXT NOT NULL DEFAULT '';
ALTER TABLE signal_bindings DROP CONSTRAINT signal_bindings_pkey;
ALTER TABLE signal_bindings ADD PRIMARY KEY (signal, scope);
-- Aspects are a built-in signal too: one analyzer's mentions per post, so
-- two analyzers never count one mention twice.
INSERT INTO signal_bindings (signal, scope, analyzer, bound_by, bound_at) VALUES ('aspects', '', 'sentiment', 'install', 0);
-- A macro response may answer the posts that mention a taxonomy entry (an
-- aspect audience, or an alert of scope `aspect`).
ALTER TABLE responses ADD COLUMN aspect TEXT;
