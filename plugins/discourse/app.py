"""A socialcrm channel for Discourse forums, in Python.

Built into a WebAssembly component with componentize-py against the
`channel` world of wit/v1 (see README.md). Polls the forum's latest posts
(`/posts.json`, newest first, paged back with `before`), keeps those in the
watched categories or with a watched word, takes `post_created` webhooks,
and replies with `POST /posts.json`. The host attaches `Api-Key` and
`Api-Username` to every request; the plugin never reads them.
"""

import json
from email.utils import parsedate_to_datetime
from datetime import datetime, timezone

from componentize_py_types import Err
from wit_world import exports
from wit_world.exports import connector
from wit_world.imports import log, signing
from wit_world.imports import socialcrm_plugin_types as types

import discourse
import http_client

NETWORK = "discourse"
SIGNATURE_HEADER = "x-discourse-event-signature"
EVENT_HEADER = "x-discourse-event"
WEBHOOK_SECRET = "webhook-secret"
# How long to wait when a 429 names no delay.
DEFAULT_WAIT_SECONDS = 60


def fail(error) -> Err:
    return Err(error)


def invalid(message: str) -> Err:
    return fail(types.PluginError_InvalidConfig(message))


class Settings:
    def __init__(self, config: list[types.ConfigEntry]):
        values = {c.name: c.value for c in config}
        site = values.get("site", "").strip()
        if not site:
            raise invalid("`site` is required (the forum's address, e.g. https://forum.example.com)")
        self.origin = discourse.site_origin(site)
        if any(c in self.origin.split("://", 1)[1] for c in "/?#@ "):
            raise invalid(f"`site` must be the forum's address only, got `{site}`")
        categories = []
        for c in discourse.parse_list(values.get("categories", "")):
            if not c.isdigit():
                raise invalid(f"`categories` lists category ids (the number in /c/slug/ID), got `{c}`")
            categories.append(int(c))
        self.filter = discourse.Filter(categories, discourse.parse_list(values.get("keywords", "")))


def error_for(response: http_client.Response, what: str):
    """The plugin error for a non-2xx answer of Discourse."""
    message = f"HTTP {response.status}"
    details = {}
    try:
        details = json.loads(response.body)
        errors = details.get("errors") if isinstance(details, dict) else None
        if errors:
            message += ": " + "; ".join(str(e) for e in errors)
    except ValueError:
        details = {}
    message = f"{what}: {message}"
    status = response.status
    if status in (401, 403):
        return types.PluginError_Unauthorized(message)
    if status == 429:
        wait = _retry_after(response.headers.get("retry-after"))
        extras = details.get("extras") if isinstance(details, dict) else None
        if isinstance(extras, dict) and isinstance(extras.get("wait_seconds"), (int, float)):
            wait = max(wait or 0, extras["wait_seconds"])
        seconds = wait if wait else DEFAULT_WAIT_SECONDS
        return types.PluginError_RateLimited(types.RateLimit(retry_after_ms=int(seconds * 1000), message=message))
    if status >= 500:
        return types.PluginError_Transient(message)
    return types.PluginError_Permanent(message)


def _retry_after(value: str | None) -> float | None:
    """`Retry-After` in seconds: a number, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def call(method: str, url: str, what: str, body: dict | None = None) -> dict:
    """One request to the forum, its JSON answer, or the plugin error."""
    headers = [("accept", "application/json")]
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers.append(("content-type", "application/json"))
    try:
        response = http_client.request(method, url, data, headers)
    except http_client.HttpError as e:
        if e.refused:
            raise invalid(f"{what}: {e}")
        raise fail(types.PluginError_Transient(f"{what}: {e}"))
    if not 200 <= response.status < 300:
        raise fail(error_for(response, what))
    try:
        value = json.loads(response.body)
    except ValueError as e:
        raise fail(types.PluginError_Transient(f"{what}: the answer is not JSON ({e})"))
    if not isinstance(value, dict):
        raise fail(types.PluginError_Transient(f"{what}: the answer is not a JSON object"))
    return value


def to_post(origin: str, post: dict) -> types.Post:
    f = discourse.post_fields(origin, post)
    return types.Post(
        external_id=f["external_id"],
        kind=types.PostKind.REPLY if f["reply"] else types.PostKind.POST,
        direction=types.Direction.OUTBOUND if f["outbound"] else types.Direction.INBOUND,
        author=types.Author(
            external_id=f["author_id"],
            handle=f["handle"],
            display_name=f["display_name"],
            profile_url=f["profile_url"],
            avatar_url=f["avatar_url"],
            bio=None,
            followers=None,
            fields=[],
        ),
        text=f["text"],
        url=f["url"],
        thread_id=f["thread_id"],
        in_reply_to=None,
        created_at=f["created_at"],
        language=None,
        raw=f["raw"],
    )


def wanted(settings: Settings, posts: list[dict]) -> list[types.Post]:
    out = []
    for p in posts:
        post = to_post(settings.origin, p)
        if settings.filter.wants(p, post.text):
            out.append(post)
    return out


def well_formed(post) -> bool:
    return isinstance(post, dict) and isinstance(post.get("id"), int) and isinstance(post.get("topic_id"), int)


def header(request: connector.WebhookRequest, name: str) -> str | None:
    for h in request.headers:
        if h.name.lower() == name:
            return h.value.decode("utf-8", "replace")
    return None


def answer(status: int, text: str) -> connector.WebhookResponse:
    return connector.WebhookResponse(
        status=status,
        headers=[connector.Header(name="content-type", value=b"text/plain")],
        body=text.encode(),
    )


class Connector(exports.Connector):
    def describe(self) -> connector.Descriptor:
        # The config fields are plugin.toml's.
        return connector.Descriptor(
            network=NETWORK,
            capabilities=connector.Capabilities.POLL | connector.Capabilities.WEBHOOK | connector.Capabilities.REPLY,
            config_fields=[],
        )

    def check(self, config: list[types.ConfigEntry]) -> None:
        settings = Settings(config)
        me = call("GET", f"{settings.origin}/session/current.json", "checking the API key")
        user = me.get("current_user")
        if not isinstance(user, dict) or not user.get("username"):
            raise fail(types.PluginError_Unauthorized("checking the API key: Discourse knows no current user"))
        log.write(log.Level.INFO, f"signed in to {settings.origin} as {user['username']}")

    def poll(self, config: list[types.ConfigEntry], state: str) -> connector.Page:
        settings = Settings(config)
        try:
            cursor = discourse.Cursor.parse(state)
        except (ValueError, TypeError, AttributeError) as e:
            raise fail(types.PluginError_Permanent(f"unreadable state `{state}`: {e}"))
        url = f"{settings.origin}/posts.json"
        if cursor.before is not None:
            url += f"?before={int(cursor.before)}"
        page = call("GET", url, "listing the latest posts")
        latest = page.get("latest_posts")
        if not isinstance(latest, list) or not all(well_formed(p) for p in latest):
            raise fail(types.PluginError_Transient("listing the latest posts: `latest_posts` is not a list of posts"))
        ids, nxt, more = cursor.next([p["id"] for p in latest])
        by_id = {p["id"]: p for p in latest}
        posts = wanted(settings, [by_id[i] for i in ids])
        return connector.Page(posts=posts, state=nxt.dump(), has_more=more)

    def handle_webhook(self, config: list[types.ConfigEntry], request: connector.WebhookRequest) -> connector.WebhookResult:
        settings = Settings(config)
        signature = header(request, SIGNATURE_HEADER) or ""
        mac = None
        if signature.startswith("sha256="):
            try:
                mac = bytes.fromhex(signature.removeprefix("sha256="))
            except ValueError:
                mac = None
        if mac is None:
            log.write(log.Level.WARN, "webhook delivery without a readable X-Discourse-Event-Signature refused")
            return connector.WebhookResult(response=answer(401, "missing signature"), posts=[])
        if not signing.verify_hmac_sha256(WEBHOOK_SECRET, request.body, mac):
            log.write(log.Level.WARN, "webhook delivery with a wrong X-Discourse-Event-Signature refused")
            return connector.WebhookResult(response=answer(403, "bad signature"), posts=[])
        event = header(request, EVENT_HEADER) or ""
        try:
            payload = json.loads(request.body)
        except ValueError as e:
            raise fail(types.PluginError_Permanent(f"webhook `{event}`: the body is not JSON ({e})"))
        posts = []
        # A new topic sends `topic_created` and `post_created` for its first
        # post: the post carries the text, so the topic adds nothing.
        if event == "post_created":
            post = payload.get("post") if isinstance(payload, dict) else None
            if not well_formed(post):
                raise fail(types.PluginError_Permanent("webhook `post_created`: no post in the body"))
            posts = wanted(settings, [post])
        return connector.WebhookResult(response=answer(200, "ok"), posts=posts)

    def send(self, config: list[types.ConfigEntry], message: connector.Outbound) -> connector.Sent:
        settings = Settings(config)
        target = message.in_reply_to
        if target is None or message.recipient is not None:
            raise fail(types.PluginError_Permanent("Discourse: only replies to a post are supported"))
        if not target.external_id.isdigit():
            raise fail(types.PluginError_Permanent(f"`{target.external_id}` is not a Discourse post id"))
        # The post's topic and number: a reply names both.
        original = call("GET", f"{settings.origin}/posts/{target.external_id}.json", "reading the post answered")
        if not well_formed(original) or not isinstance(original.get("post_number"), int):
            raise fail(types.PluginError_Transient("reading the post answered: no topic or post number"))
        created = call(
            "POST",
            f"{settings.origin}/posts.json",
            "posting the reply",
            {
                "topic_id": original["topic_id"],
                "raw": message.text,
                "reply_to_post_number": original["post_number"],
            },
        )
        if not well_formed(created):
            raise fail(types.PluginError_Transient("posting the reply: the answer names no post"))
        created.setdefault("topic_slug", original.get("topic_slug"))
        return connector.Sent(external_id=str(created["id"]), url=discourse.permalink(settings.origin, created))
