"""A verdict as the chat shows it: the explanation (``audit.explain``) as markdown with one line on
the validity controls, its one compact chart, on the sandbox the world's truth about the name (told
as the verdict tells it), and after a share link whether the run repeated the shared one."""
from __future__ import annotations

from ..attack.result import IdiaResult
from ..attack.settings import FIELDS
from ..attack.verdict import Verdict
from ..audit import charts, explain
from ..echo import Markup
from ..sandbox.world import world_of
from ..text.names import identity_key
from . import share, views
from .replies import Reply, say
from .session import ChatSession
from .spelling import known_spelling


def verdict_text(result: IdiaResult, truth: str | None = None) -> str:
    """The verdict as markdown: the plain sentence, what the controls found (one line), the
    sandbox's ``truth`` line when given, then evidence, chance, caveats (all from explain)."""
    parts = [f"**{explain.verdict_sentence(result)}**", ""]
    for line in (controls_line(result), truth):
        if line:
            parts += [line, ""]
    parts += [f"- {line}" for line in explain.evidence_lines(result)]
    parts += ["", explain.significance_sentence(result), "", "*Caveats*"]
    parts += [f"- {c}" for c in explain.caveats(result)]
    parts += ["", "Say **why?** for each template's vote, **report** for a download, **share** for a link."]
    return "\n".join(parts)


def controls_line(result: IdiaResult) -> str | None:
    """One line on the validity controls under a verdict the rule called member: that they passed
    ("0 of 50 look-alikes and 0 of 50 random people get the name as often"), or why they did not run. An
    inconclusive verdict's own sentence already says what the controls found."""
    controls = getattr(result, "controls", None)
    if not result.member or controls is None or result.verdict is Verdict.INCONCLUSIVE:
        return None
    if not controls.ran:
        return say("controls_not_run", reason=controls.reason or "no reference set")
    la, npr = controls.look_alikes, controls.name_prior
    return say("controls_passed", name=result.true_name, at_least=la.at_least_observed, M=la.m,
               at_least_r=npr.at_least_observed, M_r=npr.m, k=result.correct_templates,
               chance=f"{max(la.chance, npr.chance):.2g}")


def verdict_reply(result: IdiaResult, state: ChatSession) -> Reply:
    text = verdict_text(result, sandbox_truth_line(result, state.photos))
    note = reproduction_note(result, state)
    if note:
        text = note + "\n\n" + text
    return Reply(text, images=tuple(chart_pngs(result, state)), kind="verdict")


# The truth line: who the world says this is, then what the verdict (after the controls) made of it.
_TRUTH_OUTCOME = {   # (the person was in training with the name, verdict) -> message key
    (True, Verdict.MEMBER): "found", (True, Verdict.MEMBER_UNCHECKED): "found_unchecked",
    (True, Verdict.INCONCLUSIVE): "miss_controls", (True, Verdict.NON_MEMBER): "miss",
    (False, Verdict.MEMBER): "false_alarm", (False, Verdict.MEMBER_UNCHECKED): "false_alarm_unchecked",
    (False, Verdict.INCONCLUSIVE): "caught", (False, Verdict.NON_MEMBER): "correct",
}


def sandbox_truth_line(result: IdiaResult, photos=()) -> str | None:
    """On the sandbox model: what the world says about this name (its role and how often it was in
    training) and what the controlled verdict (``IdiaResult.verdict``) made of it — one story with
    the verdict above it: a member the controls did not confirm is a miss they explain, a trap
    they stopped is caught. Photos the sandbox did not draw (``PhotoRef.drawn``) cannot show anyone
    in its world, and the line says so instead; a name spelled otherwise than the world's is
    matched as the spelling note matched it (``spelling``). None on any other model, whose
    training data nobody knows."""
    world = world_of(result.model_spec)
    if world is None:
        return None
    foreign = [p for p in photos if getattr(p, "drawn", None) is False]
    if foreign:
        return say("sandbox_truth_real_photos", count=len(foreign), total=len(photos))
    try:
        person = world.person(result.true_name)
    except (KeyError, ValueError, OSError):
        variant = known_spelling(result.true_name, result.model_spec)
        if variant is None or variant.source != "sandbox":
            return say("sandbox_truth_unknown", name=result.true_name)
        if not variant.same_to_model:
            other = world.person(variant.known)
            return say("sandbox_truth_variant", name=result.true_name, known=variant.known, what=variant.differs,
                       who=say(f"sandbox_who_{_group(other)}", k=other.k, role=other.role))
        person = world.person(variant.known)
    outcome = _TRUTH_OUTCOME[(person.role == "member", result.verdict)]
    return say("sandbox_truth", who=say(f"sandbox_who_{_group(person)}", k=person.k, role=person.role),
               outcome=say(f"sandbox_outcome_{outcome}"))


def _group(person) -> str:
    """member | never (non-members and look-alikes: never in training) | trap | control."""
    return {"member": "member", "non-member": "never", "look-alike": "never", "trap": "trap"}.get(person.role, "control")


def chart_pngs(result: IdiaResult, state: ChatSession) -> list[str]:
    """The verdict's one compact chart (``charts.chat_figure``) as a PNG in the session's folder:
    a chat message shows images, and a native plot inside a chat message breaks gradio 6.31's chat.
    The full per-template and closest-names charts are beside the chat and in the report."""
    return [views.chart_png(state, result, "verdict", charts.chat_figure)]


def reproduction_note(result: IdiaResult, state: ChatSession) -> str | None:
    """When the session came from a share link: did this run repeat the shared one?"""
    shared = state.shared
    if shared is None:
        return None
    diffs = []
    for f in FIELDS:
        now, then = getattr(state.settings, f.name), getattr(shared.settings, f.name)
        if now != then:
            diffs.append(f"{f.name} {now} (link: {then})")
    if identity_key(state.name or "") != identity_key(shared.name):
        diffs.append(f"name {state.name} (link: {shared.name})")
    if [identity_key(n) for n in state.added_names] != [identity_key(n) for n in shared.added_names]:
        diffs.append(f"added names ({len(state.added_names)} here, {len(shared.added_names)} in the link)")
    if diffs:
        return say("not_reproduced_settings", details="; ".join(diffs))
    extra, missing = share.photo_mismatch(shared.photo_hashes, [(p.label, p.sha256) for p in state.photos])
    if extra or missing:
        details = [say("photo_not_in_link", label=label, sha=sha[:12]) for label, sha in extra]
        if missing:
            details.append(say("photos_missing_from_link", count=len(missing),
                               list=", ".join(h[:12] + "…" for h in missing[:5])))
        joined = "; ".join(details)   # filled texts (escaped already): markup
        return say("not_reproduced_photos", details=Markup(joined[:1].upper() + joined[1:] + "."))
    if shared.member is not None and (shared.member != result.member or shared.correct_templates != result.correct_templates):
        old = f"{_rule_word(shared.member)}, {shared.correct_templates} templates"
        new = f"{_rule_word(result.member)}, {result.correct_templates} templates"
        return say("verdict_differs", old=old, new=new, fp=shared.fingerprint or "?", now=result.fingerprint)
    now_ref = (result.controls.reference_set or {}).get("sha256") if getattr(result, "controls", None) else None
    if shared.verdict and (shared.verdict != result.verdict or (shared.reference or None) != now_ref):
        old = f"{shared.verdict}, reference set {(shared.reference or 'none')[:12]}"
        new = f"{result.verdict}, reference set {(now_ref or 'none')[:12]}"
        return say("verdict_differs", old=old, new=new, fp=shared.fingerprint or "?", now=result.fingerprint)
    return say("reproduced", count=len(state.photos), k=result.correct_templates, T=result.n_templates)


def _rule_word(member: bool) -> str:
    """The paper's rule alone, in the verdict's words (a link records it as member-K or none-K)."""
    return (Verdict.MEMBER if member else Verdict.NON_MEMBER).word
