-- Erasure and retention make tombstones of posts in batches: their advocacy
-- events are found by post.
CREATE INDEX advocacy_events_post ON advocacy_events (post_id);
