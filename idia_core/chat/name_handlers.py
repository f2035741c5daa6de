"""Handlers of names: the person checked ("is this Jane Doe?", "my name is …"), names added to or
removed from the pool, and the note when a name is a known one spelled otherwise (``spelling``)."""
from __future__ import annotations

from dataclasses import replace

from ..errors import IdiaInputError
from ..text.lookalike import mixed_script_letters, plain_look, skeleton
from ..text.names import identity_key, name_key, validate_name
from . import public
from .flow import run_when_ready
from .replies import Reply, say, short_list
from .session import ChatSession
from .spelling import known_spelling


def on_name(intent, state, *, progress, **_):
    try:
        name = validate_name(intent.value or "")
    except IdiaInputError as err:
        return state, [Reply(err.message, kind="error")]
    notes = [Reply(hint, kind="info") for hint in (spelling_hint(name, state), mixed_script_note(name)) if hint]
    state = replace(state, name=name, added_names=[   # the person, or a look-alike of them, once
        n for n in state.added_names if identity_key(n) != identity_key(name) and skeleton(n) != skeleton(name)])
    state, replies = run_when_ready(state, progress, explicit=True)
    return state, notes + replies


def spelling_hint(name: str, state: ChatSession) -> str | None:
    """When ``name`` is a known name spelled otherwise ('emile loiseau' for the sandbox world's
    'Émile Loiseau', 'Cyprian Szalata' for 'Cyprian Szałata'), a note from the model's own
    tokenizer: a warning with the spelling the model knows when the token ids differ, or a plain
    'the same name to this model' when they do not (CLIP's tokenizer lower-cases). Known names:
    the sandbox world's people (on the sandbox model) and the names the user added."""
    known = known_spelling(name, state.settings.model, state.added_names)
    if known is None:
        return None
    if known.same_to_model:
        return say("spelling_same", typed=name, known=known.known, what=known.differs,
                   where=say(f"spelling_of_{known.source}"))
    return say("spelling_hint", where=say(f"spelling_where_{known.source}"), known=known.known, typed=name,
               what=known.differs)


def mixed_script_note(name: str) -> str | None:
    """A note when ``name`` carries letters of another script that look like its own ("Jаne Dое"
    with Cyrillic а, о, е): flagged, not refused (``text.lookalike``)."""
    letters = mixed_script_letters(name)
    if not letters:
        return None
    listed = ", ".join(f"{ch} ({script}, looks like {twin})" for ch, script, twin in letters[:6])
    return say("name_mixed_script", name=name, letters=listed, plain=plain_look(name))


def on_add_names(intent, state, *, progress, **_):
    if not intent.items:
        return state, [Reply(say("names_empty"), kind="error")]
    # the pool's own identity (case only): names the model can tell apart ("Zoë"/"Zoe") stay apart;
    # but two names a reader cannot tell apart ("Jane Doe" and Cyrillic "Jаne Dое") never share a pool
    keys = {identity_key(n) for n in state.added_names}
    target = identity_key(state.name) if state.name else None
    looks = {skeleton(n): n for n in ([state.name] if state.name else []) + state.added_names}
    added, lines, dupes = [], [], []
    for raw in intent.items:
        try:
            name = validate_name(raw, what="The name")
        except IdiaInputError as err:
            lines.append(say("names_skipped", label=f"'{raw[:40]}'", reason=err.message))
            continue
        key = identity_key(name)
        if key == target:
            lines.append(say("names_is_target", name=name))
        elif key in keys:
            dupes.append(name)
        elif skeleton(name) in looks:
            lines.append(say("names_lookalike", name=name, other=looks[skeleton(name)]))
        else:
            keys.add(key)
            looks[skeleton(name)] = name
            added.append(name)
    total = len(state.added_names) + len(added)
    if total > public.max_added_names():
        return state, [Reply(say("names_too_many", total=total, max=public.max_added_names()), kind="error")]
    if dupes:
        lines.insert(0, say("names_duplicate", list=short_list(dupes)))
    if not added:
        return state, [Reply("\n\n".join(lines), kind="error")]
    lines.insert(0, say("names_added", count=len(added), total=total, list=short_list(added)))
    state, replies = run_when_ready(replace(state, added_names=state.added_names + added), progress, explicit=False)
    return state, [Reply("\n\n".join(lines), kind="info")] + replies


def on_remove_names(intent, state, *, progress, **_):
    if not intent.items:
        return state, [Reply(say("names_empty"), kind="error")]
    wanted = {name_key(n): n for n in intent.items}
    kept = [n for n in state.added_names if name_key(n) not in wanted]
    removed = [n for n in state.added_names if name_key(n) in wanted]
    found = {name_key(n) for n in removed}
    missing = [n for k, n in wanted.items() if k not in found]
    lines = []
    if removed:
        lines.append(say("names_removed", count=len(removed), list=short_list(removed)))
    if missing:
        lines.append(say("names_not_found", list=short_list(missing)))
    if not removed:
        return state, [Reply("\n\n".join(lines), kind="error")]
    state, replies = run_when_ready(replace(state, added_names=kept), progress, explicit=False)
    return state, [Reply("\n\n".join(lines), kind="info")] + replies
