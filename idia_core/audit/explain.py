"""Sentences a person reads about one verdict: the verdict itself, its evidence, how unlikely it is
by chance (the validity controls' chance; the pool-rank p only as a secondary number), and the
caveats that matter.

The chat, the CLI and the reports all explain a result the same way, so the wording lives here once
(and its text in ``prompts/messages/explain.toml``, as data). Every number comes from the
``IdiaResult``; nothing is recomputed. Names are substituted with ``string.Template``, never
``str.format``, so a name stays text whatever it contains.
"""
from __future__ import annotations

from ..attack.rule import template_wins
from ..attack.verdict import Verdict
from ..messages import fill
from ..text.names import name_key, name_parts
from ..zoo.specs import is_sandbox

FEW_PHOTOS = 10          # below this, say that majorities are fragile
SMALL_POOL = 100         # below this, say that chance wins are easy


def text(section: str, key: str, **values) -> str:
    """One explain text with its ``$placeholders`` filled (missing ones are left visible)."""
    return fill("explain", key, section, **values)


def _fmt_rank(rank: float) -> str:
    return f"{rank:.0f}" if float(rank).is_integer() else f"{rank:.1f}"


def verdict_sentence(result) -> str:
    """One plain sentence first: did the model very likely see this person with the name?"""
    name = result.true_name
    controls = getattr(result, "controls", None)
    if result.member and result.verdict is Verdict.INCONCLUSIVE:
        la, npr = controls.look_alikes, controls.name_prior
        c = la if not la.passed else npr
        key = "inconclusive_look_alikes" if c is la else "inconclusive_name_prior"
        return text("verdict", key, name=name, reached=c.reached_tau, M=c.m, at_least=c.at_least_observed,
                    k=result.correct_templates)
    if result.member:
        if result.correct_templates == result.tau:
            return text("verdict", "member_weak", name=name)
        return text("verdict", "member", name=name)
    if result.correct_templates > 0:
        return text("verdict", "below_tau", name=name, k=result.correct_templates, tau=result.tau)
    return text("verdict", "none", name=name)


def evidence_lines(result, k_competitors: int = 3) -> list[str]:
    """The numbers behind the verdict, one line each, most important first."""
    name = result.true_name
    lines = [
        text("evidence", "templates", k=result.correct_templates, T=result.n_templates, name=name,
             P=result.n_photos, tau=result.tau),
        text("evidence", "rank", name=name, N=result.n_candidates, rank=_fmt_rank(result.true_name_median_rank),
             Q=result.n_photos * result.n_templates, top1=f"{result.true_name_top1_rate * 100:.0f}%"),
    ]
    competitors = result.strongest_competitors(k_competitors)
    if competitors:
        listed = ", ".join(f"{n} ({s:.3f})" for n, s in competitors)
        lines.append(text("evidence", "competitors", list=listed))
    else:
        lines.append(text("evidence", "competitors_none"))
    if result.user_names:
        shown = list(result.user_names[:10])
        more = len(result.user_names) - len(shown)
        lines.append(text("evidence", "user_names", list=", ".join(shown) + (f" and {more} more" if more > 0 else "")))
    lines += user_rival_lines(result)
    if result.duplicates_dropped:
        lines.append(text("evidence", "duplicates", list=", ".join(result.duplicates_dropped[:10])))
    for key, dropped in (("too_long", result.too_long_dropped), ("indistinct", result.indistinct_dropped)):
        if dropped:
            more = len(dropped) - 10
            lines.append(text("evidence", key, list=", ".join(dropped[:10]) + (f" and {more} more" if more > 0 else "")))
    s = result.settings
    lines.append(text("evidence", "model", model=result.model_spec, N=result.n_candidates, seed=s.seed,
                      mode=s.name_mode, templates=s.template_set))
    build = getattr(result, "model_build", None) or {}
    if build:
        lines.append(text("evidence", "build", build=build_description(build), fp=result.fingerprint))
    return lines


def build_description(build: dict) -> str:
    """``QuickGELU, context 77, float16 on CUDA`` from a ``ModelBuild.to_dict()``."""
    return (f"{build.get('activation', '?')}, context {build.get('context_length', '?')}, "
            f"{build.get('precision', '?')} on {str(build.get('device', '?')).upper()}")


def user_rival_lines(result, limit: int = 3) -> list[str]:
    """Names the user added that won at least as many templates as the true name (and at least
    one): each is called a namesake (it shares a first name or surname with the true name) or a
    look-alike (another spelling of the same name, or a name the model confuses with it)."""
    if not result.user_names:
        return []
    wins = template_wins(result.majority, result.n_candidates)
    k = int(wins[result.true_index])
    index = {n: i for i, n in enumerate(result.candidates)}
    rivals = sorted(((int(wins[index[n]]), n) for n in result.user_names if n in index),
                    key=lambda r: -r[0])
    own_parts = name_parts(result.true_name)
    lines = []
    for w, who in rivals:
        if w == 0 or w < k or len(lines) >= limit:
            break
        shared = sorted(name_parts(who) & own_parts)
        if shared and name_key(who) != name_key(result.true_name):
            part = next((p for p in who.replace("-", " ").split() if name_parts(p) & set(shared[:1])), shared[0])
            lines.append(text("evidence", "user_namesake", who=who, w=w, T=result.n_templates, k=k,
                              name=result.true_name, part=part))
        else:
            lines.append(text("evidence", "user_lookalike", who=who, w=w, T=result.n_templates, k=k,
                              name=result.true_name))
    return lines


def _pct(x: float) -> str:
    return "n/a" if x != x else f"{x * 100:.0f}%"


def control_lines(result) -> list[str]:
    """What the validity controls found (or why they could not run), one line each."""
    controls = getattr(result, "controls", None)
    name = result.true_name
    if controls is None or not result.member:
        return []  # the controls only ever question a member verdict
    if not controls.ran:
        return [text("controls", "not_run", reason=controls.reason or "no reference set", name=name)]
    la, npr = controls.look_alikes, controls.name_prior
    lines = []
    if result.verdict is Verdict.MEMBER:
        lo, hi = la.wilson
        lines.append(text("controls", "beat", k=result.correct_templates, name=name, M=la.m, reached=la.reached_tau,
                          lo=_pct(lo), hi=_pct(hi), at_least=la.at_least_observed, chance=f"{la.chance:.3g}",
                          reached_r=npr.reached_tau, at_least_r=npr.at_least_observed, chance_r=f"{npr.chance:.3g}"))
    else:
        lo, hi = la.wilson
        lines.append(text("controls", "look_alikes", reached=la.reached_tau, M=la.m, name=name, lo=_pct(lo), hi=_pct(hi),
                          at_least=la.at_least_observed, k=result.correct_templates, chance=f"{la.chance:.3g}",
                          max=max(la.counts) if la.counts else 0))
        lo, hi = npr.wilson
        lines.append(text("controls", "name_prior", reached=npr.reached_tau, M=npr.m, name=name, lo=_pct(lo),
                          hi=_pct(hi), at_least=npr.at_least_observed, k=result.correct_templates,
                          chance=f"{npr.chance:.3g}"))
    rs = controls.reference_set
    if rs:
        lines.append(text("controls", "reference", set=rs.get("name", "?"), people=rs.get("people", "?"),
                          photos=rs.get("photos_per_person", "?"), sha=str(rs.get("sha256", ""))[:16]))
    return lines


def significance_sentence(result) -> str:
    """How unlikely the outcome is by chance: the validity controls' chance
    (``ValidityControls.chance``: how many reference people — the look-alikes and random ones —
    reach the target's count), or that it was not measured. Never the pool-rank p, which only
    restates the rule (``pool_rank_line``); never "unlikely" when the controls disagree."""
    name, k = result.true_name, result.correct_templates
    controls = getattr(result, "controls", None)
    if k == 0:
        return text("significance", "nothing", name=name)
    if controls is None or not controls.ran:
        reason = (controls.reason if controls is not None else "") or "no reference set was given"
        return text("significance", "unmeasured", name=name, reason=reason)
    la, npr = controls.look_alikes, controls.name_prior
    key = "below_tau" if not result.member else "unlikely" if controls.passed else "not_unlikely"
    sentence = text("significance", key, name=name, k=k, M=la.m, at_least=la.at_least_observed, M_r=npr.m,
                    at_least_r=npr.at_least_observed, chance=f"{controls.chance:.3g}", alpha=f"{la.alpha:g}")
    return f"{sentence} {text('significance', 'conservative')}"


def pool_rank_line(result) -> str | None:
    """The pool-rank p as the secondary number it is (``rule.pool_rank_p_value``), or None when the
    name won no template."""
    k = result.correct_templates
    if k == 0:
        return None
    n, t = result.n_candidates, result.n_templates
    return text("significance", "pool_rank", count=result.rivals_reaching_true_count, others=n - 1, k=k,
                p=f"{result.pool_rank_p:.3g}", T=t, bound=f"{t}/{n} = {t / n:.3g}")


def caveats(result) -> list[str]:
    """The caveats that matter for this result, most specific first."""
    out: list[str] = []
    spec = str(result.model_spec)
    for note in (getattr(result, "model_build", None) or {}).get("notes", ()):   # e.g. an activation asked for
        out.append(text("caveats", "build_note", note=note))
    if is_sandbox(spec):
        out.append(text("caveats", "sandbox"))
    if spec.endswith(":random"):
        out.append(text("caveats", "random_model"))
    if result.n_photos < FEW_PHOTOS:
        out.append(text("caveats", "few_photos", P=result.n_photos))
    if result.n_candidates < SMALL_POOL:
        out.append(text("caveats", "small_pool", N=result.n_candidates))
    if result.tau > 1:
        out.append(text("caveats", "tau_high", tau=result.tau))
    out.append(text("caveats", "namesakes"))
    if result.member:
        out.append(text("caveats", "member_means", others=result.n_candidates - 1))
    else:
        out.append(text("caveats", "nonmember_means"))
    return out


def template_detail_lines(result) -> list[str]:
    """Per template: its majority name, whether it is the true name, and the top votes ("why?")."""
    lines = [text("detail", "header", P=result.n_photos, name=result.true_name)]
    for i, template in enumerate(result.templates):
        majority = result.majority_names[i]
        votes = ", ".join(f"{n} {c}" for n, c in result.votes(i).most_common(3))
        lines.append(text(
            "detail", "row",
            mark="✓" if result.template_correct[i] else "·",
            template=template.replace("{0}", "…"),
            majority=majority if majority is not None else text("detail", "no_majority"),
            votes=votes,
        ))
    return lines


def explanation(result) -> str:
    """The whole explanation as plain text (CLI, logs): verdict, evidence, chance, caveats."""
    parts = [verdict_sentence(result), ""]
    parts += [f"- {line}" for line in evidence_lines(result)]
    parts += ["", significance_sentence(result)]
    parts += [f"- {line}" for line in control_lines(result)]
    secondary = pool_rank_line(result)
    parts += [f"- {secondary}"] if secondary else []
    parts += [""]
    parts += [f"- {c}" for c in caveats(result)]
    return "\n".join(parts)
