"""The gates in front of gradio: plain ASGI middlewares that answer a request before gradio reads
it — the URL-length limit, deep links closed, the size of a request's body, and the upload quota.

``serve.server`` puts them in front of the app (``Server.launch``); they hold no session state and
know nothing of the UI. No gradio import.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from .admission import client_address
from .uploads import UPLOADER, UploadQuota

MAX_URL_CHARS = 16000   # twice a share link's limit (chat.share.MAX_LINK_CHARS); gradio fails beyond 64 kB


class UrlLengthLimit:
    """ASGI middleware: a request whose URL is longer than ``max_chars`` gets HTTP 414 and a page
    that says why (gradio would answer a 64 kB link with an internal error)."""

    def __init__(self, app, max_chars: int = MAX_URL_CHARS):
        self.app, self.max_chars = app, max_chars

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"") \
                > self.max_chars:
            page = ("<!doctype html><meta charset=utf-8><title>Link too long</title><p>This link is too long for "
                    f"idia (more than {self.max_chars} characters). Share links made by idia stay well under "
                    "that, so it was cut, joined or edited: ask whoever sent it for a new link, or open "
                    "<a href='/'>idia</a> without it.</p>")
            await _answer(send, 414, page, "text/html; charset=utf-8")
            return
        await self.app(scope, receive, send)


async def _answer(send, status: int, text: str, content_type: str = "text/plain; charset=utf-8") -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class DeepLinksClosed:
    """ASGI middleware: gradio's deep links are off. ``GET /gradio_api/deep_link`` wrote the
    session's components (its chat, names and verdicts, 10 MB each) to ``deep_links/<id>/state.json``
    under the upload folder, kept after the session and the server ended, and ``/?deep_link=<id>``
    showed them to whoever opened the link — a forged history with a live form included (issue 23).
    Here that route answers 404 and a ``deep_link`` parameter is removed from every request, so
    gradio never reads nor writes such a file. idia's own share links carry settings, never a chat."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope.get("path") or ""
            if path.rstrip("/").endswith("/deep_link"):
                await _answer(send, 404, "Deep links are turned off on this server; share links (the chat's "
                                         "\"share\") carry a check's settings instead.")
                return
            query = (scope.get("query_string") or b"").decode("latin-1")
            if "deep_link" in query:
                kept = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "deep_link"]
                scope = dict(scope, query_string=urlencode(kept).encode("latin-1"))
        await self.app(scope, receive, send)


MAX_BODY_BYTES = 2 * 2**20   # a request that is not an upload: a message, its history, options


class RequestBodyLimit:
    """ASGI middleware: a request that is not an upload may carry at most ``max_bytes`` (HTTP 413).
    A chat turn's body holds the message and the history the client sends back, which the server
    caps itself (``history``); 10 MB of forged history no longer reaches gradio's parser."""

    def __init__(self, app, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH") \
                or (scope.get("path") or "").rstrip("/").endswith("/upload"):
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await _answer(send, 413, f"This request is larger than {self.max_bytes // 2**20} MB, more than a "
                                     "message and its history ever need.")
            return
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body") or b"")
            if seen > self.max_bytes:   # a body sent without a length: cut where it passes the limit
                return {"type": "http.disconnect"}
            return message
        await self.app(scope, counted, send)


class UploadGate:
    """ASGI middleware in front of gradio's upload route: each upload request is admitted by
    ``quota`` (``uploads.UploadQuota``, per client address) before gradio writes a byte (HTTP 429 and
    why, when not), and the uploader's address is made known to the upload record (``UPLOADER``)."""

    def __init__(self, app, quota: UploadQuota, hops: int = 0):
        self.app, self.quota, self.hops = app, quota, hops

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "POST" \
                or not (scope.get("path") or "").rstrip("/").endswith("/gradio_api/upload"):
            await self.app(scope, receive, send)
            return
        peer = (scope.get("client") or (None,))[0]
        address = client_address(list(scope.get("headers") or ()), peer, self.hops)
        declared = _header(scope, b"content-length")
        if (declared is None or not declared.isdigit()) and self.quota.limited:
            await _answer(send, 411, "Uploads must say their length (Content-Length).")
            return
        why = self.quota.admit(address, int(declared) if declared and declared.isdigit() else 0)
        if why is not None:
            await _answer(send, 429, why)
            return
        token = UPLOADER.set(address)
        try:
            await self.app(scope, receive, send)
        finally:
            UPLOADER.reset(token)
