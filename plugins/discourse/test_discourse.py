"""The pure parts of the plugin in plain CPython: `python3 -m unittest` here."""

import json
import unittest

from discourse import Cursor, Filter, html_to_text, permalink, post_fields


class HtmlToText(unittest.TestCase):
    def test_paragraphs_breaks_entities_and_mentions(self):
        cooked = (
            '<p>Hi <a class="mention" href="/u/acme">@acme</a>, the app &amp; site<br>\n'
            "are down <img src=\"/e.png\" alt=\":frowning:\" class=\"emoji\"></p>\n"
            "<aside class=\"quote\"><blockquote><p>quoted</p></blockquote></aside>\n<p>  second  </p>"
        )
        self.assertEqual(html_to_text(cooked), "Hi @acme, the app & site\nare down :frowning:\n\nquoted\n\nsecond")

    def test_empty(self):
        self.assertEqual(html_to_text(""), "")


class Cursors(unittest.TestCase):
    def test_the_first_poll_takes_the_newest_page_only(self):
        ids, nxt, more = Cursor().next([105, 104, 103])
        self.assertEqual((ids, nxt.dump(), more), ([103, 104, 105], '{"seen":105}', False))
        ids, nxt, more = Cursor().next([])
        self.assertEqual((ids, nxt.dump(), more), ([], '{"seen":0}', False))

    def test_a_gap_is_swept_without_duplicates(self):
        # 10 new posts above 100, pages of 4.
        ids, nxt, more = Cursor(100).next([110, 109, 108, 107])
        self.assertEqual((ids, more), ([107, 108, 109, 110], True))
        self.assertEqual(nxt.dump(), '{"seen":100,"top":110,"before":107}')
        ids, nxt, more = Cursor.parse(nxt.dump()).next([106, 105, 104, 103])
        self.assertEqual((ids, more), ([103, 104, 105, 106], True))
        ids, nxt, more = Cursor.parse(nxt.dump()).next([102, 101, 100, 99])
        self.assertEqual((ids, nxt.dump(), more), ([101, 102], '{"seen":110}', False))
        ids, nxt, more = Cursor.parse(nxt.dump()).next([110, 109])
        self.assertEqual((ids, nxt.dump(), more), ([], '{"seen":110}', False))


class Posts(unittest.TestCase):
    POST = {
        "id": 7, "topic_id": 3, "post_number": 2, "topic_slug": "help", "username": "bob",
        "name": "Bob", "avatar_template": "/user_avatar/f/bob/{size}/1.png", "category_id": 2,
        "cooked": "<p>It is broken</p>", "created_at": "2026-11-23T10:01:00.000Z", "user_id": 9,
    }

    def test_fields(self):
        f = post_fields("https://forum.example", self.POST)
        self.assertEqual(f["url"], "https://forum.example/t/help/3/2")
        self.assertEqual(f["avatar_url"], "https://forum.example/user_avatar/f/bob/120/1.png")
        self.assertEqual((f["external_id"], f["thread_id"], f["reply"], f["text"]), ("7", "3", True, "It is broken"))
        self.assertEqual(json.loads(f["raw"])["id"], 7)
        self.assertEqual(permalink("https://f.example", {"topic_id": 1, "post_number": 1}), "https://f.example/t/topic/1/1")

    def test_filter(self):
        self.assertTrue(Filter([], []).wants(self.POST, "anything"))
        self.assertTrue(Filter([2], []).wants(self.POST, "x"))
        self.assertFalse(Filter([1], ["refund"]).wants(self.POST, "It is broken"))
        self.assertTrue(Filter([1], ["BROKEN"]).wants(self.POST, "It is broken"))


if __name__ == "__main__":
    unittest.main()
