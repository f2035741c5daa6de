"""``compare models A, B``: the session's photos and name checked on up to three models at once,
answered with a table (errors listed below it) and, when more than one model answers, a
models × templates chart."""
from __future__ import annotations

from .. import echo, limits
from ..attack.run import run_idia
from ..attack.verdict import Verdict
from ..audit import charts
from ..errors import IdiaInputError
from . import public
from .public import public_model
from .replies import Reply, model_label, say
from .session import ChatSession

MAX_COMPARE = 3          # with the session's own model, fits models.MAX_LOADED_MODELS (4)


def on_compare(intent, state, *, progress, **_):
    if not intent.items:
        return state, [Reply(say("compare_none"), kind="error")]
    if not state.name or len(state.photos) < limits.MIN_PHOTOS:
        return state, [Reply(say("compare_need"), kind="error")]
    specs = list(dict.fromkeys(intent.items))
    notes = []
    if len(specs) > MAX_COMPARE:
        notes.append(say("compare_too_many", max=MAX_COMPARE))
        specs = specs[:MAX_COMPARE]
    s = state.settings
    rows = ["| model | verdict | templates picking the name | median rank | chance (controls) |",
            "|---|---|---|---|---|"]
    errors, answered = [], []
    for spec in specs:
        try:
            spec = public_model(spec)
            r = run_idia(spec, [p.path for p in state.photos], state.name, s, extra_names=tuple(state.added_names),
                         progress=progress, private_cache=state.private_embeddings)
        except IdiaInputError as err:
            errors.append(say("compare_error", model=echo.code(spec), message=public.client_message(err)))
            continue
        answered.append((spec, r))
        word = r.verdict_word   # wraps between its words on a phone, never inside one (the app's CSS)
        verdict = (("✓\u00a0**" + word + "**") if r.verdict is Verdict.MEMBER else
                   ("?\u00a0**" + word + "**") if r.member else "✗\u00a0" + word)   # no-break spaces: a cell never
        rows.append(f"| {echo.code(spec).replace('|', chr(92) + '|')} | {verdict} | "                  # wraps
                    f"{r.correct_templates}\u00a0of\u00a0{r.n_templates} | "
                    f"{r.true_name_median_rank:g}\u00a0of\u00a0{r.n_candidates} | {chance_cell(r)} |")
    head = say("compare_header", P=len(state.photos), N=s.n_candidates, seed=s.seed, tau=s.tau)
    parts = notes + [head]
    parts += ["\n".join(rows)] if answered else [say("compare_no_answer")]
    if errors:
        parts.append(say("compare_errors_head") + "\n" + "\n".join(f"- {e}" for e in errors))
    images = ()
    if len(answered) > 1:
        images = (compare_png(answered, state),)
    return state, [Reply("\n\n".join(parts), images=images, kind="compare")]


def chance_cell(result) -> str:
    """The validity controls' chance (``IdiaResult.chance``), or why there is none: never the
    pool-rank p, which only restates the rule."""
    if result.correct_templates == 0:
        return "—"
    return f"{result.chance:.3g}" if result.chance is not None else "not measured\u00a0(no\u00a0reference\u00a0set)"


def compare_png(answered, state: ChatSession) -> str:
    folder = state.ensure_workdir()
    stamp = abs(hash((tuple(r.fingerprint for _, r in answered), state.run_key()))) % 10**10
    path = folder / f"compare-{stamp:010d}.png"
    if not path.exists():
        charts.save_figure(charts.compare_figure([(model_label(m), r) for m, r in answered]), path)
    return str(path)
