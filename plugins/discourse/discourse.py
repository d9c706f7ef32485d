"""Discourse's JSON as socialcrm posts, with no I/O: the parts a unit test can
run in plain CPython (`python3 -m unittest` in this folder)."""

import json
import re
from html.parser import HTMLParser

# Block elements whose end starts a new paragraph of the plain text.
_BLOCKS = {"p", "div", "li", "blockquote", "pre", "aside", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "ul", "ol"}
# Elements whose content is not text (Discourse's lightbox metadata, scripts).
_SKIP = {"script", "style", "svg"}


class _Text(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in _SKIP:
            self.skipping += 1
        elif tag == "br":
            self.out.append("\n")
        elif tag == "img":
            # Emoji are images whose alt text is `:name:` or the emoji itself.
            alt = dict(attrs).get("alt") or ""
            if alt and not self.skipping:
                self.out.append(alt)
        elif tag in _BLOCKS:
            self.out.append("\n\n")

    def handle_endtag(self, tag):
        if tag in _SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCKS:
            self.out.append("\n\n")

    def handle_data(self, data):
        # Newlines in HTML source are spaces; only <br> and blocks break lines.
        if not self.skipping:
            self.out.append(" ".join(data.split("\n")))


def html_to_text(html: str) -> str:
    """`cooked` HTML as plain text: paragraphs kept, tags dropped, entities decoded."""
    parser = _Text()
    parser.feed(html or "")
    parser.close()
    paragraphs = []
    for block in re.split(r"\n\s*\n", "".join(parser.out)):
        lines = [" ".join(line.split()) for line in block.split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            paragraphs.append(text)
    return "\n\n".join(paragraphs)


def site_origin(site: str) -> str:
    """`forum.example` or `https://forum.example/` -> `https://forum.example`."""
    site = site.strip().rstrip("/")
    return site if "://" in site else f"https://{site}"


def permalink(origin: str, post: dict) -> str:
    slug = post.get("topic_slug") or "topic"
    return f"{origin}/t/{slug}/{post['topic_id']}/{post.get('post_number') or 1}"


def avatar_url(origin: str, template: str | None) -> str | None:
    if not template:
        return None
    url = template.replace("{size}", "120")
    if url.startswith("//"):
        return "https:" + url
    return url if "://" in url else origin + url


class Filter:
    """What the account watches: posts in some categories, posts with some
    words; with neither, every post the API user can see."""

    def __init__(self, categories: list[int], keywords: list[str]):
        self.categories = set(categories)
        self.keywords = [k.lower() for k in keywords if k.strip()]

    def wants(self, post: dict, text: str) -> bool:
        if not self.categories and not self.keywords:
            return True
        if post.get("category_id") in self.categories:
            return True
        haystack = f"{post.get('topic_title') or ''}\n{text}".lower()
        return any(k in haystack for k in self.keywords)


def parse_list(value: str) -> list[str]:
    return [v.strip() for v in (value or "").split(",") if v.strip()]


def post_fields(origin: str, post: dict) -> dict:
    """The fields of a socialcrm post for one Discourse post, as plain values."""
    text = html_to_text(post.get("cooked") or "") or (post.get("raw") or "")
    username = post.get("username") or ""
    return {
        "external_id": str(post["id"]),
        "reply": int(post.get("post_number") or 1) > 1,
        "outbound": bool(post.get("yours")),
        "author_id": str(post.get("user_id") or username),
        "handle": username,
        "display_name": post.get("name") or None,
        "profile_url": f"{origin}/u/{username}" if username else None,
        "avatar_url": avatar_url(origin, post.get("avatar_template")),
        "text": text,
        "url": permalink(origin, post),
        "thread_id": str(post["topic_id"]),
        "created_at": post.get("created_at") or "",
        "raw": json.dumps(post, separators=(",", ":"), ensure_ascii=False),
    }


class Cursor:
    """The poll state, opaque to the host: `seen` is the highest post id
    delivered; during a sweep back through older pages, `top` is the newest
    id of the sweep and `before` where the next page starts. Post ids only
    grow, so every post above `seen` is new and none is delivered twice."""

    def __init__(self, seen: int = 0, top: int | None = None, before: int | None = None):
        self.seen, self.top, self.before = seen, top, before

    @classmethod
    def parse(cls, state: str) -> "Cursor":
        if not state:
            return cls()
        data = json.loads(state)
        return cls(int(data.get("seen", 0)), data.get("top"), data.get("before"))

    def dump(self) -> str:
        data = {"seen": self.seen}
        if self.before is not None:
            data.update(top=self.top, before=self.before)
        return json.dumps(data, separators=(",", ":"))

    def next(self, ids: list[int]) -> tuple[list[int], "Cursor", bool]:
        """Given the ids of the page just read (this cursor's request), the
        ids to deliver, the next cursor and whether another page is ready."""
        if self.seen == 0 and self.before is None:
            # The first poll takes the newest page only: no backfill.
            return sorted(ids), Cursor(max(ids, default=0)), False
        new = sorted(i for i in ids if i > self.seen)
        top = self.top if self.before is not None else max(ids, default=self.seen)
        top = max(top or 0, self.seen)
        lowest = min(ids, default=0)
        # Reached what was already delivered (or the start of the forum).
        if not ids or lowest <= self.seen + 1:
            return new, Cursor(top), False
        return new, Cursor(self.seen, top, lowest), True
