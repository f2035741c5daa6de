"""The curated catalogue: the models idia offers by name, as data (open_clip keeps its registry
apart from building in the same way). A public deployment offers exactly these and its default."""
from __future__ import annotations

from dataclasses import dataclass

from .specs import catalogue_activation


@dataclass(frozen=True)
class CatalogueEntry:
    spec: str
    label: str
    description: str

    @property
    def activation(self) -> str:
        """The activation this entry builds (from open_clip's record of the tag, or its override)."""
        return catalogue_activation(self.spec)


PAPER_SPEC = "ViT-B-32:laion400m_e32+gelu"
CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry("sandbox", "Sandbox CLIP (embedded)",
                   "Small CLIP trained by idia on a synthetic world; works offline, every verdict checkable."),
    CatalogueEntry("ViT-B-32:laion400m_e32", "OpenCLIP ViT-B/32 · LAION-400M",
                   "One of the paper's three LAION-400M models (ViT-B/32, 32 epochs), built as trained "
                   "(QuickGELU)."),
    CatalogueEntry(PAPER_SPEC, "ViT-B/32 · LAION-400M · the paper's configuration (GELU)",
                   "The same weights built with GELU, as the paper's notebook built them (open_clip of "
                   "2023 ignored the tag's QuickGELU): for reproducing the paper's numbers, not the "
                   "model as trained."),
    CatalogueEntry("ViT-B-16:laion400m_e32", "OpenCLIP ViT-B/16 · LAION-400M",
                   "The paper's LAION-400M ViT-B/16."),
    CatalogueEntry("ViT-L-14:laion400m_e32", "OpenCLIP ViT-L/14 · LAION-400M",
                   "The paper's LAION-400M ViT-L/14, its largest model."),
    CatalogueEntry("ViT-B-32:openai", "OpenAI CLIP ViT-B/32",
                   "OpenAI's original CLIP, trained on a private 400M-pair dataset."),
    CatalogueEntry("ViT-B-16:openai", "OpenAI CLIP ViT-B/16", "OpenAI's CLIP ViT-B/16."),
    CatalogueEntry("ViT-L-14:openai", "OpenAI CLIP ViT-L/14", "OpenAI's CLIP ViT-L/14."),
    CatalogueEntry("ViT-B-32:laion2b_s34b_b79k", "OpenCLIP ViT-B/32 · LAION-2B",
                   "ViT-B/32 trained on the English LAION-2B subset (34B samples seen)."),
    CatalogueEntry("ViT-L-14:laion2b_s32b_b82k", "OpenCLIP ViT-L/14 · LAION-2B",
                   "ViT-L/14 trained on the English LAION-2B subset (32B samples seen)."),
)
