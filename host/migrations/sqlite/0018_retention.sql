-- Retention (docs/retention.md): each kind's rows past their period are
-- found through an index on the time they are counted from. The posts'
-- indexes hold only what a run may still change (a payload not yet blanked,
-- a post not yet a tombstone), so a run reads what is due and no more.
CREATE INDEX posts_raw_kept ON posts (ingested_at) WHERE raw <> '{}';
CREATE INDEX posts_text_kept ON posts (created_at) WHERE tombstone IS NULL;
CREATE INDEX audit_log_at ON audit_log (at);
