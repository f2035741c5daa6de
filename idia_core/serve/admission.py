"""Fair queueing: which events a visitor may add to the server's queue.

Gradio's queue had one limit for everything (``max_size``, 64 events): 80–90 ``check`` joins in a
second from one client filled it, and every other visitor's "help" got HTTP 503 and a new page
loaded with error badges and an empty chat (issue 23). Here every event that joins the queue is a
``Ticket`` (its kind, its session, its client's address) and is admitted against what is already
waiting or running:

- **compute** events (a ``check`` call, a chat turn that may run a check — ``routing`` decides —,
  a changed setting): at most ``per_session`` for one session, ``per_address`` for one client
  address, and ``compute_total`` in all;
- **cheap** events (help, status, share, report, why?, reset, a message not understood): counted
  apart, with their own, larger limits, so a flood of checks never takes their room;
- page loads do not join the queue at all (the app runs them without it).

A refused event is answered at once with a sentence that says why, and nothing of it is kept.
``install`` puts the policy in front of a queue's ``push`` (duck-typed: gradio's ``Queue``, read
through its ``event_queue_per_concurrency_id`` and ``active_jobs``; no gradio import here).

The client address is the connection's peer, or — behind a proxy that says so (``IDIA_PROXY_HOPS``,
1 on a Hugging Face Space) — the address that proxy recorded in ``X-Forwarded-For`` (counted from
the right, where a client cannot write).
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Callable, Iterable

from .. import config
from ..messages import fill

COMPUTE, CHEAP = "compute", "cheap"


@dataclass(frozen=True)
class Ticket:
    kind: str        # COMPUTE or CHEAP
    session: str
    address: str


@dataclass(frozen=True)
class QueueLimits:
    per_session: int | None = 2       # compute events of one session, waiting or running
    per_address: int | None = 6       # ... of one client address
    compute_total: int = 48           # ... of everyone
    cheap_per_address: int | None = 32
    cheap_total: int = 256


def queue_limits(public: bool, environ=None) -> QueueLimits:
    """A public deployment's limits (``IDIA_QUEUE_PER_SESSION``, ``IDIA_QUEUE_PER_ADDRESS``,
    ``IDIA_QUEUE_COMPUTE`` override them); a laptop has no per-address limit (its owner's own
    scripts may run many sessions from one address)."""
    def number(name: str, default):
        return max(1, config.whole(name, default, environ))

    if not public:
        return QueueLimits(per_session=number("IDIA_QUEUE_PER_SESSION", 2), per_address=None,
                           compute_total=number("IDIA_QUEUE_COMPUTE", 64), cheap_per_address=None)
    return QueueLimits(per_session=number("IDIA_QUEUE_PER_SESSION", 2),
                       per_address=number("IDIA_QUEUE_PER_ADDRESS", 6),
                       compute_total=number("IDIA_QUEUE_COMPUTE", 48))


def refusal(new: Ticket, in_flight: Iterable[Ticket], limits: QueueLimits) -> str | None:
    """Why ``new`` may not join (a sentence for the visitor), or None when it may."""
    same_kind = [t for t in in_flight if t.kind == new.kind]
    if new.kind == COMPUTE:
        if limits.per_session is not None and sum(t.session == new.session for t in same_kind) >= limits.per_session:
            return (f"This session already has {limits.per_session} checks waiting or running; wait for them "
                    "to finish before sending another.")
        if limits.per_address is not None and sum(t.address == new.address for t in same_kind) >= limits.per_address:
            return (f"Your address already has {limits.per_address} checks waiting or running on this shared "
                    "server; wait for them to finish (or run idia on your own machine for more).")
        if len(same_kind) >= limits.compute_total:
            return "The server is busy with other visitors' checks; try again in a minute."
        return None
    if limits.cheap_per_address is not None and \
            sum(t.address == new.address for t in same_kind) >= limits.cheap_per_address:
        return "Too many requests from your address at once; wait a moment and try again."
    if len(same_kind) >= limits.cheap_total:
        return "The server is busy; try again in a moment."
    return None


def proxy_hops(environ=None) -> int:
    """Proxies in front of the server that record the client in X-Forwarded-For: ``IDIA_PROXY_HOPS``,
    else 1 on a Hugging Face Space and 0 elsewhere (then the header is a client's claim, ignored)."""
    return config.whole("IDIA_PROXY_HOPS", 1 if config.on_space(environ) else 0, environ)


def client_address(headers, peer: str | None, hops: int) -> str:
    """The client's address: with ``hops`` trusted proxies, the entry they wrote in X-Forwarded-For
    (the ``hops``-th from the right); otherwise the connection's peer. ``headers``: a mapping with
    ``get`` (case-insensitive, as Starlette's) or a list of (bytes, bytes) pairs (ASGI)."""
    if hops > 0:
        forwarded = _header(headers, "x-forwarded-for")
        entries = [e.strip() for e in forwarded.split(",") if e.strip()] if forwarded else []
        if len(entries) >= hops:
            return entries[-hops][:64]
    return (peer or "unknown")[:64]


def _header(headers, name: str) -> str:
    if isinstance(headers, (list, tuple)):
        values = [v.decode("latin-1") for k, v in headers if k.decode("latin-1").lower() == name]
        return ",".join(values)
    return headers.get(name) or ""


class FairQueue:
    """The policy in front of a queue's ``push``: ``classify(body)`` says an event's kind,
    ``refusal`` decides, admitted events are remembered by id until they leave the queue."""

    def __init__(self, queue, classify: Callable[[object], str], limits: QueueLimits, hops: int = 0,
                 closing: Callable[[], bool] = lambda: False):
        self.queue, self.classify, self.limits, self.hops, self.closing = queue, classify, limits, hops, closing
        self._tickets: dict[str, Ticket] = {}
        self._joining: dict[int, Ticket] = {}   # admitted, not yet in the queue (its push is under way)
        self._original = queue.push

    def in_flight(self) -> list[Ticket]:
        """Tickets of the events waiting in any concurrency group or running now (forgetting the
        ones that have left)."""
        live = set()
        for group in list(getattr(self.queue, "event_queue_per_concurrency_id", {}).values()):
            live.update(getattr(e, "_id", None) for e in list(group.queue))
        for job in list(getattr(self.queue, "active_jobs", []) or []):
            live.update(getattr(e, "_id", None) for e in (job or []))
        for gone in set(self._tickets) - live:
            del self._tickets[gone]
        return list(self._tickets.values()) + list(self._joining.values())

    async def push(self, body, request, username):
        if self.closing():
            return False, fill("chat", "restarting"), "queue_full"
        peer = getattr(getattr(request, "client", None), "host", None)
        session = getattr(body, "session_hash", None) or f"call-{uuid.uuid4().hex}"   # a REST call: its own
        ticket = Ticket(self.classify(body), str(session),
                        client_address(getattr(request, "headers", {}), peer, self.hops))
        why = refusal(ticket, self.in_flight(), self.limits)
        if why is not None:
            return False, why, "queue_full"
        key = id(ticket)
        self._joining[key] = ticket   # counted while gradio's push awaits, so a burst cannot slip past
        try:
            success, event_id, status = await self._original(body, request, username)
        finally:
            self._joining.pop(key, None)
        if success and isinstance(event_id, str):
            self._tickets[event_id] = ticket
        return success, event_id, status


def install(queue, classify: Callable[[object], str], limits: QueueLimits, hops: int = 0,
            closing: Callable[[], bool] = lambda: False) -> FairQueue:
    """Put the fair-queueing policy in front of ``queue.push`` (gradio's ``Blocks._queue``)."""
    fair = FairQueue(queue, classify, limits, hops, closing)
    queue.push = fair.push
    return fair
