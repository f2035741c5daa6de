"""One model's worker in an audit: the model loaded once, its shared preparation, one check per
person — each check is ``attack.run.run_idia`` itself, so an audit row says exactly what ``check``
says for the same photos, name and settings (there is no second implementation of the rule).

The same class runs in-process (``--engine local``) and inside a Ray actor (``ray_engine``).

Shared preparation (``prepare``, once per model): the prompts of the union of every audited
person's candidate pool (each person's pool is ``check``'s pool for them: the same seeded
distractors, the person's own name) embedded once, and the validity controls' reference set for
each photo count. On Ray it travels through the object store to every actor of the model
(``adopt``), which then encodes nothing: every check reads its prompts from an in-memory
``TextEmbeddingCache`` holding exactly the vectors ``check`` would read from the disk cache.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

import numpy as np

from ..attack.reference import ReferenceSet, resolve_reference_set
from ..attack.run import paper_real_identities, resolve_pool, run_idia
from ..errors import IdiaInputError
from ..text.cache import TextEmbeddingCache, default_cache
from ..text.embeddings import pool_text_embeddings
from ..text.templates import fill_template, load_templates
from ..zoo.load import load_model
from .results import AuditSettings, CheckJob, check_row, failed_row


@dataclass
class SharedPrep:
    """What every worker of one model shares: ``prompts`` [K] with their ``vectors`` [K, D]
    (float32, as the text cache hands them out) and the reference set per photo count."""

    fingerprint: str
    prompts: tuple[str, ...]
    vectors: np.ndarray
    references: dict[int, ReferenceSet] = field(default_factory=dict)


class ModelWorker:
    """One model (``spec``) and the checks run on it. A model that fails to load does not raise:
    ``status()`` says why, and the engine marks that model's rows failed."""

    def __init__(self, spec: str, settings: AuditSettings, device: str | None = None):
        self.spec = spec
        self.settings = settings
        self.model = None
        self.error: tuple[str, str] | None = None
        self.cache: TextEmbeddingCache | None = None
        self.references: dict[int, ReferenceSet] = {}
        try:
            self.model = load_model(spec, device=device, precision=settings.precision)
        except IdiaInputError as exc:
            self.error = (exc.code, exc.message)
        except Exception as exc:  # a broken checkpoint, out of memory, …: this model's rows fail, the rest go on
            self.error = ("model_load_failed", f"{spec} failed to load: {type(exc).__name__}: {exc}")

    def status(self) -> dict:
        """{"ok", "spec", "fingerprint", "code", "message", "pid"}."""
        ok = self.model is not None
        return {"ok": ok, "spec": self.spec, "fingerprint": self.model.fingerprint if ok else "",
                "code": "" if ok else self.error[0], "message": "" if ok else self.error[1], "pid": os.getpid()}

    def prepare(self, names, photo_counts) -> SharedPrep:
        """Embed the prompts of every person's pool (union) and resolve the reference sets."""
        s = self.settings
        templates = load_templates(s.template_set)
        real = paper_real_identities(self.model) if s.name_mode == "paper" else None
        union: dict[str, None] = {}
        for name in names:
            try:
                pool = resolve_pool(name, None, (), s.n_candidates, s.seed, s.name_mode, real)
            except IdiaInputError:
                continue        # that person's check will refuse the name itself, with its own message
            union.update(dict.fromkeys(pool.names))
        pool_names = tuple(union)
        emb = pool_text_embeddings(self.model, templates, pool_names, default_cache())      # [T, U, D]
        prompts = tuple(fill_template(t, n) for t in templates for n in pool_names)
        refs = {}
        for n in sorted(set(int(c) for c in photo_counts)):
            try:
                ref, _ = resolve_reference_set(self.model, n, s.reference)
            except IdiaInputError:
                continue        # the checks of n photos raise it themselves (e.g. reference_empty)
            if ref is not None:
                refs[n] = ref
        return SharedPrep(self.model.fingerprint, prompts, emb.reshape(len(prompts), -1), refs)

    def adopt(self, shared: SharedPrep) -> None:
        """Use a preparation (this worker's or another's of the same model) for every later check."""
        cache = TextEmbeddingCache(disk=False)
        cache.put_many(shared.fingerprint, list(shared.prompts), shared.vectors)
        self.cache, self.references = cache, dict(shared.references)

    def check(self, job: CheckJob, photos: list[bytes]) -> dict:
        """One person on this model: the row of ``run_idia`` (``invalid`` with the code and message
        when the check refuses the input; ``failed`` on any other error, which a re-run retries)."""
        s = self.settings
        if self.model is None:
            return failed_row(job, self.spec, s, "failed", *self.error)
        started = time.perf_counter()
        try:
            result = run_idia(self.model, photos, job.name, s.check_settings(self.spec), cache=self.cache,
                              reference=self.references.get(len(photos), s.reference), control_m=s.control_m)
        except IdiaInputError as exc:
            return failed_row(job, self.spec, s, "invalid", exc.code, exc.message, self.model.fingerprint)
        except Exception as exc:  # a bug or a resource error on one person must not stop the audit
            return failed_row(job, self.spec, s, "failed", "worker_failed", f"{type(exc).__name__}: {exc}",
                              self.model.fingerprint)
        return check_row(job, self.spec, result, s, time.perf_counter() - started)
