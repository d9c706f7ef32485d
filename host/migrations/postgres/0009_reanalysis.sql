-- Re-analysis (host/src/reanalysis, docs/insights.md): a new analyzer version
-- re-run over history as a leased, resumable job, and the analyzer version
-- insights read until an admin switches.

-- One job per (plugin, to_version) run; posts are analysed in id order and
-- `cursor_post_id` (the last post id done) is committed with each batch's analyses.
CREATE TABLE reanalysis_jobs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    plugin TEXT NOT NULL,
    -- The version compared with (what insights read when the job started); NULL when none.
    from_version TEXT,
    to_version TEXT NOT NULL,
    -- running (waiting for or held by a worker), done, failed, cancelled
    status TEXT NOT NULL,
    -- Posts up to this id when the job started: the history to re-analyse.
    last_post_id BIGINT NOT NULL,
    posts_total BIGINT NOT NULL,
    posts_done BIGINT NOT NULL DEFAULT 0,
    -- Posts the new version failed on (their batch is skipped, `error` says why).
    posts_failed BIGINT NOT NULL DEFAULT 0,
    cursor_post_id BIGINT NOT NULL DEFAULT 0,
    error TEXT,
    lease_owner TEXT,
    lease_until BIGINT NOT NULL DEFAULT 0,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    finished_at BIGINT
);
CREATE INDEX reanalysis_jobs_status ON reanalysis_jobs (status, lease_until);
CREATE INDEX reanalysis_jobs_plugin ON reanalysis_jobs (plugin, id);

-- The analyzer version insights read per plugin; a plugin without a row is
-- read at its newest analysis. A post without an analysis of this version is
-- read at its newest one.
CREATE TABLE insights_versions (
    plugin TEXT PRIMARY KEY,
    version TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Picking the insights version per post reads the version: keep it in the index.
DROP INDEX analyses_plugin_post;
CREATE INDEX analyses_plugin_post_version ON analyses (plugin, post_id, version, id);
