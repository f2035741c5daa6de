"""Example conversations for the app: sandbox people whose truth is known (a member seen often, a
member seen rarely, a non-member), with freshly rendered attack photos written to a folder.

The photos are synthetic (rendered by the sandbox world), so writing them to disk is fine; they
are rendered at start-up rather than shipped, so the repository holds no images."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..sandbox.world import load_world, render_attack_photos

N_PHOTOS = 5


@dataclass(frozen=True)
class Example:
    label: str
    name: str
    role: str
    k: int
    photos: tuple[str, ...]

    @property
    def message(self) -> dict:
        """The MultimodalTextbox value that sends this example."""
        return {"text": f"Is this {self.name}?", "files": list(self.photos)}


def pick_people(world) -> list[tuple[str, object]]:
    """(label, person): the most-seen member, the least-seen member, the first non-member."""
    members = sorted(world.people_with_role("member"), key=lambda p: (p.k, p.index))
    picks = []
    if members:
        picks.append((f"member seen {members[-1].k}×", members[-1]))
        picks.append((f"member seen {members[0].k}×", members[0]))
    non = world.people_with_role("non-member")
    if non:
        picks.append(("never seen", non[0]))
    return picks


def sandbox_examples(folder: Path, n_photos: int = N_PHOTOS, seed: int = 0) -> list[Example]:
    """Render the examples into ``folder``; an empty list when the sandbox is not available."""
    try:
        world = load_world()
    except Exception:  # no sandbox model in this checkout: the app simply has no examples
        return []
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for label, person in pick_people(world):
        paths = []
        for i, img in enumerate(render_attack_photos(person, n_photos, seed=seed)):
            path = folder / f"person{person.index}-{i}.png"  # no role in the name: no spoiler
            if not path.exists():
                img.save(path)
            paths.append(str(path))
        out.append(Example(label, person.name, person.role, person.k, tuple(paths)))
    return out
