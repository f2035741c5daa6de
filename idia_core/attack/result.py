"""``IdiaResult``: one check's verdict and all of its evidence. Every front end (CLI, chat, reports,
API) reads this object; none recomputes the attack."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from . import rule
from .controls import controlled_verdict
from .settings import IdiaSettings
from .verdict import Verdict


@dataclass(frozen=True)
class IdiaResult:
    member: bool
    correct_templates: int
    tau: int
    true_name: str
    true_index: int
    templates: tuple[str, ...]
    candidates: tuple[str, ...]
    predictions: np.ndarray = field(repr=False)        # [T, P] candidate index per template × photo
    majority: np.ndarray = field(repr=False)           # [T] majority index, -1 where tied
    true_name_ranks: np.ndarray = field(repr=False)    # [T, P] 1 = the true name was the most similar
    top_indices: np.ndarray = field(repr=False)        # [T, P, k]
    top_similarities: np.ndarray = field(repr=False)   # [T, P, k]
    mean_similarity: np.ndarray = field(repr=False)    # [C] over all templates and photos
    true_name_probability: float
    score: float
    pool_rank_p: float      # rule.pool_rank_p_value: a secondary number that restates the rule (not a chance)
    photo_hashes: tuple[str, ...]
    photo_labels: tuple[str, ...]
    settings: IdiaSettings
    model_spec: str
    fingerprint: str
    user_names: tuple[str, ...] = ()
    duplicates_dropped: tuple[str, ...] = ()
    too_long_dropped: tuple[str, ...] = ()      # candidates whose prompts the model would cut
    indistinct_dropped: tuple[str, ...] = ()    # candidates tokenised exactly like an earlier one
    timings: dict = field(default_factory=dict)
    model_build: dict = field(default_factory=dict)   # models.ModelBuild.to_dict(): weights, config, precision, notes
    # The validity controls (``controls.ValidityControls``) or None when not asked for.
    controls: object = None

    @property
    def verdict(self) -> Verdict:
        """``Verdict.MEMBER`` (the rule holds and the photos beat both controls), ``INCONCLUSIVE``
        (the rule holds but look-alikes or random people get the name as well), ``MEMBER_UNCHECKED``
        (the rule holds, no reference set to run the controls), or ``NON_MEMBER``. ``member`` stays
        the paper's rule alone."""
        return controlled_verdict(self.member, self.controls)

    @property
    def verdict_word(self) -> str:
        """The verdict in a word or three, for headlines and tables (``Verdict.word``)."""
        return self.verdict.word

    # -- derived views (computed here once, read by every front end) ------------------------------
    @property
    def n_templates(self) -> int:
        return len(self.templates)

    @property
    def n_photos(self) -> int:
        return int(self.predictions.shape[1])

    @property
    def n_candidates(self) -> int:
        return len(self.candidates)

    @property
    def template_correct(self) -> np.ndarray:
        return self.majority == self.true_index

    @property
    def correct_template_list(self) -> list[str]:
        return [t for t, ok in zip(self.templates, self.template_correct) if ok]

    @property
    def majority_names(self) -> list[str | None]:
        return [self.candidates[i] if i >= 0 else None for i in self.majority]

    def votes(self, template_index: int) -> Counter:
        return Counter(self.candidates[i] for i in self.predictions[template_index])

    @property
    def true_name_median_rank(self) -> float:
        return float(np.median(self.true_name_ranks))

    @property
    def true_name_top1_rate(self) -> float:
        """Share of (photo, template) queries whose top prediction was the true name."""
        return float((self.true_name_ranks == 1).mean())

    @property
    def chance(self) -> float | None:
        """How unlikely this result is by chance: the validity controls' chance (the larger of the
        look-alike and name-prior chances, ``ValidityControls.chance``); None when they did not
        run, and then nothing here measures it (``pool_rank_p`` does not)."""
        return None if self.controls is None else self.controls.chance

    @property
    def p_value(self) -> float:
        """The pool-rank p under its old name (``pool_rank_p``), kept so that code and JSON readers
        of earlier versions keep working. It is not a chance: see ``chance``."""
        return self.pool_rank_p

    @property
    def rivals_reaching_true_count(self) -> int:
        """Other names in the pool that won at least as many templates as the true name: the count
        behind ``pool_rank_p`` (= (1 + this) / n_candidates)."""
        wins = rule.template_wins(self.majority, self.n_candidates)
        return int(np.count_nonzero(np.delete(wins, self.true_index) >= wins[self.true_index]))

    def top_names(self, k: int = 5) -> list[tuple[str, float]]:
        order = np.argsort(-self.mean_similarity, kind="stable")[:k]
        return [(self.candidates[i], float(self.mean_similarity[i])) for i in order]

    def strongest_competitors(self, k: int = 3) -> list[tuple[str, float]]:
        return [(n, s) for n, s in self.top_names(k + 1) if n != self.true_name][:k]

    def photo_top_names(self, photo_index: int, k: int = 3) -> list[tuple[str, int]]:
        """The names a photo's predictions went to, over all templates, most frequent first."""
        counts = Counter(self.candidates[i] for i in self.predictions[:, photo_index])
        return counts.most_common(k)

    def to_dict(self, *, full: bool = False) -> dict:
        """JSON-safe summary; ``full`` adds per-query evidence and the whole candidate pool.

        Significance: ``chance`` is the validity controls' chance (null when they did not run) —
        the statement of how unlikely the result is; ``pool_rank_p`` is the secondary pool-rank
        number, and ``p_value`` the same number under its earlier name (kept for earlier readers;
        it restates the rule and is not a chance)."""
        data = {
            "member": bool(self.member),
            "verdict": self.verdict,
            "correct_templates": int(self.correct_templates),
            "n_templates": self.n_templates,
            "tau": int(self.tau),
            "n_photos": self.n_photos,
            "n_candidates": self.n_candidates,
            "true_name": self.true_name,
            "model": self.model_spec,
            "fingerprint": self.fingerprint,
            "model_build": dict(self.model_build),
            "true_name_median_rank": self.true_name_median_rank,
            "true_name_top1_rate": self.true_name_top1_rate,
            "true_name_probability": self.true_name_probability,
            "score": self.score,
            "chance": self.chance,
            "pool_rank_p": self.pool_rank_p,
            "p_value": self.pool_rank_p,
            "top_names": [{"name": n, "mean_similarity": s} for n, s in self.top_names(10)],
            "templates": [
                {
                    "template": t,
                    "majority": self.majority_names[i],
                    "correct": bool(self.template_correct[i]),
                    "votes": dict(self.votes(i).most_common(5)),
                }
                for i, t in enumerate(self.templates)
            ],
            "correct_template_list": self.correct_template_list,
            "photo_sha256": list(self.photo_hashes),
            "user_names": list(self.user_names),
            "duplicates_dropped": list(self.duplicates_dropped),
            "too_long_dropped": list(self.too_long_dropped),
            "indistinct_dropped": list(self.indistinct_dropped),
            "settings": self.settings.to_dict(),
            "timings": {k: round(float(v), 4) for k, v in self.timings.items()},
            "controls": self.controls.to_dict() if self.controls is not None else None,
        }
        if full:
            data["candidates"] = list(self.candidates)
            data["predictions"] = self.predictions.tolist()
            data["true_name_ranks"] = self.true_name_ranks.tolist()
            data["top_names_per_query"] = [
                [
                    [{"name": self.candidates[i], "similarity": round(float(s), 6)}
                     for i, s in zip(self.top_indices[t, p], self.top_similarities[t, p])]
                    for p in range(self.n_photos)
                ]
                for t in range(self.n_templates)
            ]
        return data
