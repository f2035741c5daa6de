"""Every place the server reaches into gradio's internals, in one module.

Gradio has no public hook for what a shared server must do (count uploads as they arrive, drop a
closed session's state now, see which files queued events name, put fair admission in front of its
queue), so these reach into attributes of gradio 6.31 (the version requirements.txt pins). Each
function names the internal it relies on; when gradio changes one, this is the file to read.

No gradio import (``idia_core`` never imports it): every gradio object is handed in by ``app.py``
— the ``Blocks`` it built (``demo``), a component, gradio's own ``NamedString`` class — and read
duck-typed, so a missing attribute degrades to "nothing to do" rather than a crash at start-up.
"""
from __future__ import annotations

from typing import Callable, Iterable, Iterator

from .admission import FairQueue, QueueLimits, install
from .uploads import TrackedUploads


def track_uploads(demo, on_upload: Callable[..., None], arrive: Callable[[list[str]], list[str | None]]) -> None:
    """Count every upload from its arrival: ``Blocks.upload_file_set`` (the set gradio's upload
    route ``update``s with the paths it wrote, also listed in ``Blocks.temp_file_sets``) becomes a
    ``TrackedUploads`` that tells ``on_upload`` and moves each file (``arrive``) before the client
    learns its path."""
    tracked = TrackedUploads(demo.upload_file_set, on_upload, arrive=arrive)
    demo.temp_file_sets = [tracked if s is demo.upload_file_set else s for s in demo.temp_file_sets]
    demo.upload_file_set = tracked


def pass_upload_paths(component, named_string: type) -> None:
    """``gr.File(type="filepath")`` opens an empty ``NamedTemporaryFile`` in gradio's cache for every
    file of every call and never removes it (thousands of 0-byte files after a busy day); its
    ``_process_single_file`` is replaced by one that passes the uploaded path itself as gradio's
    ``NamedString``, which is all gradio's own code returns anyway."""
    def process(f):
        return named_string(f.path)
    component._process_single_file = process


def drop_session_state(demo, session: str) -> None:
    """Drop a closed session's state now (``Blocks.state_holder``: ``delete_state`` calls the
    ``gr.State``'s ``delete_callback``; ``session_data`` and ``time_last_used`` are its records).
    Gradio keeps a closed session for an hour, and its per-session record until 10,000 newer ones
    push it out: a memory leak on a busy Space."""
    holder = getattr(demo, "state_holder", None)
    if holder is None:
        return
    try:
        holder.delete_state(session)
        with holder.lock:
            holder.session_data.pop(session, None)
            holder.time_last_used.pop(session, None)
    except Exception as exc:  # pragma: no cover - gradio internals
        print(f"idia: could not drop the state of a closed session: {type(exc).__name__}")


def file_paths_in(data, depth: int = 0) -> list[str]:
    """The file paths in an event's inputs as a client sent them (``{"path": …}`` objects, in
    lists and dicts, a few levels deep)."""
    if depth > 4:
        return []
    if isinstance(data, dict):
        found = [data["path"]] if isinstance(data.get("path"), str) else []
        return found + [p for v in data.values() if isinstance(v, (dict, list)) for p in file_paths_in(v, depth + 1)]
    if isinstance(data, list):
        return [p for v in data[:200] for p in file_paths_in(v, depth + 1)]
    return []


def queued_file_paths(queue) -> list[str]:
    """The uploads named by events still waiting in a queue (gradio's ``Blocks._queue``, read through
    its ``event_queue_per_concurrency_id``): theirs, though no handler has claimed them yet."""
    paths: list[str] = []
    for group in list(getattr(queue, "event_queue_per_concurrency_id", {}).values()):
        for event in list(getattr(group, "queue", ())):
            paths += file_paths_in(getattr(getattr(event, "data", None), "data", None))
    return paths


def queued_uploads(demo) -> list[str]:
    """``queued_file_paths`` of the app's queue (``Blocks._queue``); none before it exists."""
    return queued_file_paths(getattr(demo, "_queue", None))


def cached_example_files(demo) -> Iterator[str]:
    """The examples' cached copies (each block's ``keep_in_cache``), shared by every visitor."""
    for block in getattr(demo, "blocks", {}).values():
        yield from getattr(block, "keep_in_cache", ())


def recorded_uploads(demo) -> Iterable[str]:
    """Every path gradio recorded as written for visitors (``Blocks.temp_file_sets``)."""
    for record in getattr(demo, "temp_file_sets", ()):
        yield from list(record)


def event_function_name(demo, body) -> str:
    """The name of the function an event joining the queue calls (``Blocks.fns`` by ``fn_index``)."""
    fn = getattr(demo, "fns", {}).get(getattr(body, "fn_index", None))
    return getattr(fn, "name", None) or ""


def admit_fairly(demo, classify: Callable[[object], str], limits: QueueLimits, hops: int,
                 closing: Callable[[], bool]) -> FairQueue:
    """Fair queueing (``admission``) in front of ``Blocks._queue.push``; call after ``demo.queue``."""
    return install(demo._queue, classify, limits, hops, closing=closing)
