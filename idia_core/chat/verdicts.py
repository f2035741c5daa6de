"""A verdict as the chat shows it: the explanation (``audit.explain``) as markdown, its one compact
chart, on the sandbox the world's truth about the name, and after a share link whether the run
repeated the shared one."""
from __future__ import annotations

from ..attack.result import IdiaResult
from ..audit import charts, explain
from ..echo import Markup
from ..sandbox.world import shipped_world
from ..text.names import identity_key
from . import share, views
from .replies import Reply, say
from .session import ChatSession


def verdict_text(result: IdiaResult) -> str:
    """The verdict as markdown: the plain sentence, evidence, chance, caveats (all from explain)."""
    parts = [f"**{explain.verdict_sentence(result)}**", ""]
    parts += [f"- {line}" for line in explain.evidence_lines(result)]
    parts += ["", explain.significance_sentence(result), "", "*Caveats*"]
    parts += [f"- {c}" for c in explain.caveats(result)]
    parts += ["", "Say **why?** for each template's vote, **report** for a download, **share** for a link."]
    return "\n".join(parts)


def verdict_reply(result: IdiaResult, state: ChatSession) -> Reply:
    text = verdict_text(result)
    truth = sandbox_truth_line(result)
    if truth:
        text = text.replace("\n\n", "\n\n" + truth + "\n\n", 1)
    note = reproduction_note(result, state)
    if note:
        text = note + "\n\n" + text
    return Reply(text, images=tuple(chart_pngs(result, state)), kind="verdict")


def sandbox_truth_line(result: IdiaResult) -> str | None:
    """On the sandbox model: what the world says about this name (its role and how often it was in
    training) and whether the verdict matches, so a demo visitor sees what the attack can and cannot
    do. None on any other model, whose training data nobody knows."""
    if result.model_spec != "sandbox":
        return None
    try:
        person = shipped_world().person(result.true_name)
    except (KeyError, ValueError, OSError):
        return say("sandbox_truth_unknown", name=result.true_name)
    if person.role == "member":
        key = "sandbox_truth_member_found" if result.member else "sandbox_truth_member_missed"
    elif person.role == "non-member":
        key = "sandbox_truth_never_false_alarm" if result.member else "sandbox_truth_never_correct"
    else:   # controls: the face or the name was in training, never the two together
        key = "sandbox_truth_control_member" if result.member else "sandbox_truth_control_correct"
    return say(key, k=person.k, role=person.role)


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
    for fld in ("model", "tau", "n_candidates", "seed", "template_set", "name_mode"):
        now, then = getattr(state.settings, fld), getattr(shared.settings, fld)
        if now != then:
            diffs.append(f"{fld} {now} (link: {then})")
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
        old = f"{'member' if shared.member else 'no sign'}, {shared.correct_templates} templates"
        new = f"{'member' if result.member else 'no sign'}, {result.correct_templates} templates"
        return say("verdict_differs", old=old, new=new, fp=shared.fingerprint or "?", now=result.fingerprint)
    now_ref = (result.controls.reference_set or {}).get("sha256") if getattr(result, "controls", None) else None
    if shared.verdict and (shared.verdict != result.verdict or (shared.reference or None) != now_ref):
        old = f"{shared.verdict}, reference set {(shared.reference or 'none')[:12]}"
        new = f"{result.verdict}, reference set {(now_ref or 'none')[:12]}"
        return say("verdict_differs", old=old, new=new, fp=shared.fingerprint or "?", now=result.fingerprint)
    return say("reproduced", count=len(state.photos), k=result.correct_templates, T=result.n_templates)
