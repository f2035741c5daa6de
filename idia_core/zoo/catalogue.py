"""The curated catalogue: the models idia offers by name, as data (open_clip keeps its registry
apart from building in the same way). A public deployment offers exactly these and its default.

Each entry also records, as data, the Hugging Face hub repo its weights come from (open_clip's
pretrained registry, ``open_clip.get_pretrained_cfg(arch, tag)["hf_hub"]``; a test holds the two
equal), so whether a catalogue model is in the local cache can be answered without importing torch
or open_clip (``hub.missing_offline``): offline, a missing model is told at once."""
from __future__ import annotations

from dataclasses import dataclass

from .specs import catalogue_activation, split_activation


@dataclass(frozen=True)
class CatalogueEntry:
    spec: str
    label: str
    description: str
    hub_repo: str = ""      # the hub repo of its weights (open_clip's registry); "" for the embedded sandbox

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
                   "(QuickGELU).",
                   hub_repo="timm/vit_base_patch32_clip_224.laion400m_e32"),
    CatalogueEntry(PAPER_SPEC, "ViT-B/32 · LAION-400M · the paper's configuration (GELU)",
                   "The same weights built with GELU, as the paper's notebook built them (open_clip of "
                   "2023 ignored the tag's QuickGELU): for reproducing the paper's numbers, not the "
                   "model as trained.",
                   hub_repo="timm/vit_base_patch32_clip_224.laion400m_e32"),
    CatalogueEntry("ViT-B-16:laion400m_e32", "OpenCLIP ViT-B/16 · LAION-400M",
                   "The paper's LAION-400M ViT-B/16.",
                   hub_repo="timm/vit_base_patch16_clip_224.laion400m_e32"),
    CatalogueEntry("ViT-L-14:laion400m_e32", "OpenCLIP ViT-L/14 · LAION-400M",
                   "The paper's LAION-400M ViT-L/14, its largest model.",
                   hub_repo="timm/vit_large_patch14_clip_224.laion400m_e32"),
    CatalogueEntry("ViT-B-32:openai", "OpenAI CLIP ViT-B/32",
                   "OpenAI's original CLIP, trained on a private 400M-pair dataset.",
                   hub_repo="timm/vit_base_patch32_clip_224.openai"),
    CatalogueEntry("ViT-B-16:openai", "OpenAI CLIP ViT-B/16", "OpenAI's CLIP ViT-B/16.",
                   hub_repo="timm/vit_base_patch16_clip_224.openai"),
    CatalogueEntry("ViT-L-14:openai", "OpenAI CLIP ViT-L/14", "OpenAI's CLIP ViT-L/14.",
                   hub_repo="timm/vit_large_patch14_clip_224.openai"),
    CatalogueEntry("ViT-B-32:laion2b_s34b_b79k", "OpenCLIP ViT-B/32 · LAION-2B",
                   "ViT-B/32 trained on the English LAION-2B subset (34B samples seen).",
                   hub_repo="laion/CLIP-ViT-B-32-laion2B-s34B-b79K"),
    CatalogueEntry("ViT-L-14:laion2b_s32b_b82k", "OpenCLIP ViT-L/14 · LAION-2B",
                   "ViT-L/14 trained on the English LAION-2B subset (32B samples seen).",
                   hub_repo="laion/CLIP-ViT-L-14-laion2B-s32B-b82K"),
)


def catalogue_hub_repo(spec: str) -> str | None:
    """The hub repo of a catalogue model's weights (any ``+gelu``/``+quickgelu`` ending allowed),
    or None for a spec that is not a catalogue model with one — read as data, no open_clip."""
    body, _ = split_activation(str(spec).strip())
    return next((e.hub_repo for e in CATALOGUE if e.hub_repo and split_activation(e.spec)[0] == body), None)
