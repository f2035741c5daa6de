"""``--engine ray``: an audit (and the caption counts of ``occurrences``) on Ray — this machine
(``ray.init()``) or a cluster (``--ray-address`` / ``RAY_ADDRESS``).

- **One actor per model** (``workers`` per model if asked): loading weights dominates, so a model
  is loaded once per actor, on a GPU when the cluster has one (one GPU per actor), else with an
  equal share of a node's CPUs. When the cluster cannot hold every model's actors at once, models
  run in waves.
- **Shared once per model**: the first actor's ``prepare`` (every person's pool prompts embedded
  once, the controls' reference sets) is an object in Ray's object store that every actor of the
  model reads (``worker.ModelWorker.adopt``).
- **People streamed**: the driver reads one person's photos at a time, puts them in the object
  store once for all models, and keeps at most ``window`` people open; a person's photos are
  dropped when every model has checked them.
- **A dying worker**: actors restart (``ACTOR_RESTARTS``) and their checks are retried
  (``TASK_RETRIES``); a row whose worker died past that is marked failed (a re-run retries it).
- **A cluster** is probed first (``probe_address``: refused within seconds where no Ray head
  answers, where ``ray.init`` would retry for minutes); idia's own code travels with the job
  (``py_modules``), so its nodes need only the requirements and the models.

Ray is imported here only, inside functions (about a second and a C++ core to start), so the CLI,
the local engine and the app never pay for it.
"""
from __future__ import annotations

import os
import socket
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..errors import IdiaInputError
from .people import AuditPerson, open_person
from .results import AuditSettings, CheckJob, Tally, failed_row

PACKAGE = Path(__file__).resolve().parents[1]        # idia_core, shipped to a cluster's workers
CONNECT_TIMEOUT_S = 3.0
ACTOR_RESTARTS = 3
TASK_RETRIES = 3
DEPTH = 2                    # checks queued per actor: the next person's photos wait beside the model
# The HTTP/2 client preface and an empty SETTINGS frame: a Ray head (gRPC) answers with SETTINGS.
_H2_HELLO = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def import_ray():
    try:
        import ray  # start-up cost (about a second, a C++ core): only when --engine ray runs
    except ImportError:
        raise IdiaInputError("ray_missing", "--engine ray needs Ray, which this install lacks: "
                             "pip install -r requirements-ray.txt (ray==2.60.0).") from None
    return ray


def probe_address(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """Refuse within ``timeout`` seconds an address where no Ray head answers (``ray.init`` would
    retry for minutes): nothing listening, no route, or something that does not speak gRPC."""
    text = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise IdiaInputError("ray_address", f"--ray-address takes HOST:PORT (e.g. 10.0.0.5:6379), ray://HOST:PORT or "
                             f"auto, not '{address}'.")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as conn:
            conn.settimeout(timeout)
            conn.sendall(_H2_HELLO)
            head = conn.recv(9)
    except OSError as exc:
        raise IdiaInputError("ray_unreachable", f"No Ray cluster answers at {address} ({exc.strerror or exc}). "
                             "Start one (`ray start --head` on the head node), check the address and port, "
                             "or leave out --ray-address to run Ray on this machine.") from None
    if len(head) < 4 or head[3] != 0x04:
        raise IdiaInputError("ray_unreachable", f"Something answers at {address}, but not a Ray head (it does not "
                             "speak gRPC). Give the head's GCS address, HOST:6379 by default.")


def probe_cluster(address: str | None) -> None:
    """``probe_address`` for the cluster an audit would join (``address``, else ``RAY_ADDRESS``);
    nothing to probe when Ray would start on this machine."""
    address = address or config.text("RAY_ADDRESS") or None
    if address not in (None, "local", "auto"):
        probe_address(address)


@dataclass
class RaySession:
    """Connect to the cluster an audit names (``address``, else ``RAY_ADDRESS``), or start Ray on
    this machine (``num_cpus``); a Ray this process has already started or joined is used as it is.
    On leaving, shut down only what was started here and give back the process's ``RAY_AUTH_MODE``
    (Ray ≥ 2.59 sets it to ``token``)."""

    address: str | None = None
    num_cpus: int | None = None
    started: bool = False
    saved_auth: str | None = field(default=None, repr=False)

    def __enter__(self):
        ray = import_ray()
        if ray.is_initialized():
            return ray
        address = self.address or config.text("RAY_ADDRESS") or None
        self.saved_auth = config.raw("RAY_AUTH_MODE")   # Ray's own: put back as it was when the cluster stops
        probe_cluster(address)
        try:
            if address in (None, "local"):
                ray.init(address="local", num_cpus=self.num_cpus, include_dashboard=False, logging_level="WARNING")
            else:               # idia's own code travels with the job: nodes need only the requirements
                ray.init(address=address, logging_level="WARNING", runtime_env={"py_modules": [str(PACKAGE)]})
        except ConnectionError as exc:
            self._give_back_auth()
            raise IdiaInputError("ray_unreachable", f"No Ray cluster to connect to at {address}: {exc}") from None
        self.started = True
        return ray

    def __exit__(self, *exc) -> None:
        if self.started:
            import ray  # loaded already by __enter__

            ray.shutdown()
            self._give_back_auth()

    def _give_back_auth(self) -> None:
        if self.saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = self.saved_auth


class AuditActor:
    """The body of a Ray actor: a ``worker.ModelWorker`` (loaded in the actor's process) that adopts
    its model's shared preparation from the object store before its first check."""

    def __init__(self, spec: str, settings: AuditSettings):
        from .worker import ModelWorker  # torch: in the actor's process only, never in the driver

        self.worker = ModelWorker(spec, settings)
        self.adopted = None

    def _node(self) -> str:
        import ray  # loaded already: this runs inside a Ray worker

        return ray.get_runtime_context().get_node_id()[:12]

    def status(self) -> dict:
        return {**self.worker.status(), "node": self._node()}

    def prepare(self, names, photo_counts):
        return self.worker.prepare(names, photo_counts)

    def check(self, job, photos, shared_box) -> dict:
        import ray  # loaded already: this runs inside a Ray worker

        ref = shared_box[0]
        if ref is not None and self.adopted != ref.hex():
            self.worker.adopt(ray.get(ref))
            self.adopted = ref.hex()
        row = self.worker.check(job, photos)
        row["node"] = self._node()
        return row


def actor_shape(node_cpus: list[float], gpus: float, n_actors: int) -> tuple[dict, int]:
    """(resources per actor, how many actors fit at once): one GPU each where there are GPUs,
    else an equal share of the CPUs no larger than the largest node."""
    if gpus >= 1:
        return {"num_gpus": 1, "num_cpus": 1}, int(gpus)
    cpus = [c for c in node_cpus if c >= 1] or [1.0]
    share = max(1, min(int(max(cpus)), int(sum(cpus) // max(1, n_actors))))
    return {"num_cpus": share}, max(1, sum(int(c // share) for c in cpus))


def _cluster(ray) -> tuple[list[float], float]:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    return [float(n["Resources"].get("CPU", 0)) for n in nodes], float(ray.cluster_resources().get("GPU", 0))


def run_on_ray(people: list[AuditPerson], specs, settings: AuditSettings, tally: Tally, *, address=None,
               workers: int = 1, num_cpus: int | None = None) -> None:
    """Every person on every model, on Ray (module docstring), rows into ``tally``."""
    with RaySession(address, num_cpus) as ray:
        node_cpus, gpus = _cluster(ray)
        shape, slots = actor_shape(node_cpus, gpus, len(specs) * workers)
        workers = max(1, min(workers, slots))
        per_wave = max(1, slots // workers)
        remote = ray.remote(AuditActor).options(max_restarts=ACTOR_RESTARTS, max_task_retries=TASK_RETRIES, **shape)
        for start in range(0, len(specs), per_wave):
            wave_specs = list(specs[start:start + per_wave])
            actors = {s: [remote.remote(s, settings) for _ in range(workers)] for s in wave_specs}
            try:
                Wave(ray, people, actors, settings, tally).run()
            finally:
                for group in actors.values():
                    for actor in group:
                        ray.kill(actor)


@dataclass
class _Open:
    """A person whose photos are in the object store until ``left`` checks have come back."""

    job: CheckJob
    photos: object
    left: int


class Wave:
    """Some models' actors and every person streamed through them: at most ``window`` people open,
    at most ``DEPTH`` checks queued per actor, the least loaded actor of a model first."""

    def __init__(self, ray, people: list[AuditPerson], actors: dict, settings: AuditSettings, tally: Tally,
                 window: int | None = None):
        self.ray, self.people, self.actors = ray, people, actors
        self.settings, self.tally = settings, tally
        self.window = window or max(4, 2 * sum(len(g) for g in actors.values()))
        self.queues = {spec: deque() for spec in actors}
        self.load = {(spec, j): 0 for spec, group in actors.items() for j in range(len(group))}
        self.dead: set = set()
        self.inflight: dict = {}
        self.open: dict[int, _Open] = {}
        self.shared: dict = {}
        self.broken: dict[str, tuple[str, str]] = {}

    def run(self) -> None:
        self._start_models()
        following = 0
        while True:
            while following < len(self.people) and len(self.open) < self.window:
                self._open(following)
                following += 1
            self._submit()
            if not self.inflight:
                if following >= len(self.people) and not self.open:
                    return
                continue
            ready, _ = self.ray.wait(list(self.inflight), num_returns=1)
            for ref in ready:
                self._finish(ref)

    def _start_models(self) -> None:
        """Wait for every actor's model to load (in parallel); each model that loaded starts its
        shared preparation on its first actor (not awaited: its checks queue behind it)."""
        names = [p.name for p in self.people]
        counts = sorted({len(p.photos) for p in self.people})
        asked = {spec: [a.status.remote() for a in group] for spec, group in self.actors.items()}
        for spec, refs in asked.items():
            statuses = []
            for j, ref in enumerate(refs):
                try:
                    statuses.append(self.ray.get(ref))
                except Exception as exc:  # the actor could not start at all (e.g. idia missing on a node)
                    self.dead.add((spec, j))
                    statuses.append({"ok": False, "code": "worker_failed", "message": _short(exc)})
            alive = [j for j, st in enumerate(statuses) if st["ok"]]
            if not alive:
                self.broken[spec] = (statuses[0]["code"], statuses[0]["message"])
                continue
            self.dead.update((spec, j) for j, st in enumerate(statuses) if not st["ok"])
            self.shared[spec] = self.actors[spec][alive[0]].prepare.remote(names, counts)

    def _open(self, index: int) -> None:
        job, photos, error = open_person(self.people[index])
        need = []
        for spec in self.actors:
            if self.tally.store.is_finished(job.folder, spec, job.photo_set_sha256):
                self.tally.skip()
            elif error is not None:
                row = failed_row(job, spec, self.settings, "invalid", error.code, error.message)
                self.tally.record(_in_driver(row))
            elif spec in self.broken:
                self.tally.record(_in_driver(failed_row(job, spec, self.settings, "failed", *self.broken[spec])))
            else:
                need.append(spec)
        if need:
            self.open[index] = _Open(job, self.ray.put(photos), len(need))
            for spec in need:
                self.queues[spec].append(index)

    def _submit(self) -> None:
        for spec, queue in self.queues.items():
            alive = [j for j in range(len(self.actors[spec])) if (spec, j) not in self.dead]
            while queue and not alive:
                index = queue.popleft()
                self._record(index, failed_row(self.open[index].job, spec, self.settings, "failed", "worker_failed",
                                               f"every worker of {spec} died"))
            while queue:
                j = min(alive, key=lambda k: self.load[(spec, k)])
                if self.load[(spec, j)] >= DEPTH:
                    break
                index = queue.popleft()
                person = self.open[index]
                ref = self.actors[spec][j].check.remote(person.job, person.photos, [self.shared[spec]])
                self.inflight[ref] = (spec, j, index)
                self.load[(spec, j)] += 1

    def _finish(self, ref) -> None:
        spec, j, index = self.inflight.pop(ref)
        self.load[(spec, j)] -= 1
        try:
            row = self.ray.get(ref)
        except self.ray.exceptions.ActorDiedError as exc:      # dead past its restarts and retries
            self.dead.add((spec, j))
            row = failed_row(self.open[index].job, spec, self.settings, "failed", "worker_failed",
                             f"the worker of {spec} died: {_short(exc)}")
        except Exception as exc:  # any other loss of a check: that row fails, the audit goes on
            row = failed_row(self.open[index].job, spec, self.settings, "failed", "worker_failed", _short(exc))
        self._record(index, row)

    def _record(self, index: int, row: dict) -> None:
        self.tally.record(row if row["node"] != "local" else _in_driver(row))
        person = self.open[index]
        person.left -= 1
        if person.left == 0:
            del self.open[index]        # the last reference to its photos: the object store frees them


def _in_driver(row: dict) -> dict:
    """A row made in the driver (no check ran on a worker) says so."""
    return {**row, "node": "driver"}


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:limit]}" + ("…" if len(text) > limit else "")
