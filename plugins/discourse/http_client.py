"""Synchronous HTTP through `wasi:http/outgoing-handler`.

The host checks each request against the manifest's allowed hosts and
attaches the account's credential (`Api-Key`, `Api-Username`) itself: this
module never sees a secret and sets no credential header.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from componentize_py_types import Err, Ok
from wit_world.imports import outgoing_handler, streams
from wit_world.imports import wasi_http_types as wasi

# What one response body may hold; Discourse pages are far smaller.
MAX_BODY_BYTES = 4 * 1024 * 1024
CHUNK = 64 * 1024


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class HttpError(Exception):
    """The request never got an answer: refused by the host or failed on the way."""

    def __init__(self, message: str, refused: bool = False):
        super().__init__(message)
        self.refused = refused


def _method(name: str):
    return {"GET": wasi.Method_Get(), "POST": wasi.Method_Post()}.get(name, wasi.Method_Other(name))


def _error_text(code) -> str:
    name = type(code).__name__.removeprefix("ErrorCode_")
    value = getattr(code, "value", None)
    return f"{name} ({value})" if value is not None else name


# The host answers these when its policy refuses a request: an admin's
# setting to fix, not a failure a retry can mend.
_REFUSED = (wasi.ErrorCode_HttpRequestDenied, wasi.ErrorCode_DestinationIpProhibited)


def request(method: str, url: str, body: bytes | None = None, headers: list[tuple[str, str]] = ()) -> Response:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HttpError(f"`{url}` is not an http(s) address", refused=True)
    fields = wasi.Fields.from_list([(k, v.encode()) for k, v in headers])
    req = wasi.OutgoingRequest(fields)
    req.set_method(_method(method))
    req.set_scheme(wasi.Scheme_Https() if parts.scheme == "https" else wasi.Scheme_Http())
    req.set_authority(parts.netloc)
    req.set_path_with_query(parts.path + (f"?{parts.query}" if parts.query else "") or "/")
    outgoing = req.body()
    try:
        future = outgoing_handler.handle(req, None)
    except Err as e:
        raise HttpError(f"{method} {parts.path}: {_error_text(e.value)}", isinstance(e.value, _REFUSED))
    # The body goes after `handle`: the host reads it while it is written.
    if body:
        with outgoing.write() as out:
            for at in range(0, len(body), 4096):
                out.blocking_write_and_flush(body[at : at + 4096])
    wasi.OutgoingBody.finish(outgoing, None)
    with future:
        with future.subscribe() as ready:
            ready.block()
        # option<result<result<incoming-response, error-code>>>: the outer
        # result is an error only when the response was already taken.
        got = future.get()
        if not isinstance(got, Ok) or not isinstance(got.value, (Ok, Err)):
            raise HttpError(f"{method} {parts.path}: no response")
        if isinstance(got.value, Err):
            code = got.value.value
            raise HttpError(f"{method} {parts.path}: {_error_text(code)}", isinstance(code, _REFUSED))
        response = got.value.value
        with response:
            status = response.status()
            with response.headers() as fields:
                names = {}
                for name, value in fields.entries():
                    names[name.lower()] = value.decode("utf-8", "replace")
            data = _read_body(response, f"{method} {parts.path}")
    return Response(status, names, data)


def _read_body(response, what: str) -> bytes:
    chunks, size = [], 0
    with response.consume() as incoming:
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(CHUNK)
                except Err as e:
                    if isinstance(e.value, streams.StreamError_Closed):
                        break
                    raise HttpError(f"{what}: the body broke off")
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise HttpError(f"{what}: the body is over {MAX_BODY_BYTES} bytes")
                chunks.append(chunk)
    return b"".join(chunks)
