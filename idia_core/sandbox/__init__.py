"""The sandbox: a synthetic world of people and an embedded CLIP trained on it, so every verdict of
the attack can be checked against the truth, offline.

Public API: `load_world`, `generate_world`, `World`, `Person`, `render_photo`, `IdentityParams`,
`render_attack_photos`, `evaluate_world`, and `add_sandbox_commands` for the CLI. Importing this
package is cheap (no torch); training and evaluation import their heavy parts when called.
"""
from .renderer import IdentityParams, derive_seed, random_identity, render_photo
from .world import (MEMBER_KS, MODEL_DIR, ROLES, Person, World, generate_world, load_world,
                    render_attack_photos, training_pairs)


def evaluate_world(*args, **kwargs):
    """See `idia_core.sandbox.evaluate.evaluate_world` (imported lazily: it needs torch)."""
    from .evaluate import evaluate_world as _ev

    return _ev(*args, **kwargs)


def add_sandbox_commands(subparsers):
    from .cli import add_sandbox_commands as _add

    return _add(subparsers)


__all__ = ["IdentityParams", "MEMBER_KS", "MODEL_DIR", "Person", "ROLES", "World", "add_sandbox_commands",
           "derive_seed", "evaluate_world", "generate_world", "load_world", "random_identity",
           "render_attack_photos", "render_photo", "training_pairs"]
