-- The inbox reads each listed post's topics in order: from the index alone.
DROP INDEX post_topics_post;
CREATE INDEX post_topics_post ON post_topics (post_id, topic);
