"""A typed name against the spellings the session knows, as the model's own tokenizer sees them.

A name typed without its accents, capitals or a letter such as "ł" may be another name to the
model, or the very same one: CLIP's BPE tokenizer lower-cases (so "rodrigo albero" and "Rodrigo
Albero" are one name to it, with the same verdict) but keeps accents and "ł" (so "Emile Loiseau"
and "Émile Loiseau" are two). The chat's spelling note and the sandbox's truth line both ask
``known_spelling`` and so tell one story: warn only when the token ids differ, recommend the
spelling the session knows, and say plainly when the difference is lost on the model.

Known spellings: on the sandbox model its world's people (the names the model was trained on),
then the names the user added to the pool. The last check's own target is never one: it is only
what was typed before.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from ..sandbox.world import world_of
from ..text.names import identity_key, name_key, spelling_key
from ..zoo.load import load_model
from ..zoo.tokens import clip_tokenizer, token_ids

SANDBOX = "sandbox"
ADDED = "added"


@dataclass(frozen=True)
class KnownSpelling:
    """``typed`` matches the known name ``known`` (of ``source``: SANDBOX or ADDED) but for
    ``differs`` ("capitals", "accents", …); ``same_to_model``: the model's tokenizer gives both the
    same token ids, so the model cannot tell them apart."""

    typed: str
    known: str
    source: str
    differs: str
    same_to_model: bool


def world_names(model_spec: str) -> tuple[str, ...]:
    """The names of the world the model was trained on (``sandbox.world.world_of``: the sandbox's;
    none for another model, or when this checkout has no world file)."""
    try:
        world = world_of(model_spec)
    except (OSError, ValueError, KeyError):
        return ()
    return world.names if world is not None else ()


def known_spelling(name: str, model_spec: str, added_names=()) -> KnownSpelling | None:
    """The known name ``name`` stands for when it is spelled otherwise (see the module docstring),
    or None (no such name, or exactly that spelling)."""
    key = spelling_key(name)
    sources = [(SANDBOX, world_names(model_spec)), (ADDED, tuple(added_names))]
    for source, names in sources:
        for known in names:
            if known == name or spelling_key(known) != key:
                continue
            if source == SANDBOX and identity_key(known) != identity_key(name) and \
                    any(identity_key(n) == identity_key(name) for n in names):
                continue   # the world has this very spelling too (another person): not a variant
            return KnownSpelling(name, known, source, what_differs(name, known),
                                 same_tokens(model_spec, name, known))
    return None


def what_differs(a: str, b: str) -> str:
    """'capitals', 'accents', 'accents and capitals', or 'letters such as ł or ø' (and capitals)."""
    if identity_key(a) == identity_key(b):
        return "capitals"
    capitals = [ch.isupper() for ch in _without_marks(a)] != [ch.isupper() for ch in _without_marks(b)]
    what = "accents" if name_key(a) == name_key(b) else "letters such as ł or ø"
    return what + (" and capitals" if capitals else "")


def _without_marks(text: str) -> str:
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


def same_tokens(model_spec: str, a: str, b: str) -> bool:
    """Whether the model's own tokenizer gives ``a`` and ``b`` the same token ids. A model that
    cannot be loaded here is asked through CLIP's BPE tokenizer, which every catalogue model uses."""
    try:
        tokenizer = load_model(model_spec).tokenizer
    except Exception:   # the check will say what is wrong with the model; a note needs only its words
        tokenizer = clip_tokenizer()
    return token_ids(tokenizer, a) == token_ids(tokenizer, b)
