"""Prompts/s of open_clip's stock ``encode_text`` vs idia's exact padding-cut encoder.

Run: ``python bench/text_encoding.py [--names 100] [--model ViT-B-32:random]``. Both paths encode
the same prompts (the paper's 21 templates × N seeded names) in the same process, one after the
other, so the ratio is measured under the same machine load. Target: ratio >= 6, max |diff| <= 1e-5.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=100)
    parser.add_argument("--model", default="ViT-B-32:random")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import torch

    from idia_core import build_candidate_pool, fill_template, load_model, load_templates

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = load_model(args.model)
    names = build_candidate_pool("Jane Doe", n_candidates=args.names, seed=0).names
    prompts = [fill_template(t, n) for t in load_templates("paper21") for n in names]
    lengths = (model.tokenize(prompts) != 0).sum(dim=1).float()
    print(f"model {args.model}; {len(prompts)} prompts (21 templates x {len(names)} names); "
          f"tokens per prompt: mean {lengths.mean():.1f}, max {int(lengths.max())} of {model.tokenize(['x']).shape[1]}; "
          f"torch threads {torch.get_num_threads()}; fast path: {model.fast_text}")
    model.encode_texts(prompts[:64], args.batch_size)  # warm-up both paths
    model.encode_texts_stock(prompts[:64], args.batch_size)

    t = time.perf_counter()
    ours = model.encode_texts(prompts, args.batch_size)
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    stock = model.encode_texts_stock(prompts, args.batch_size)
    t_stock = time.perf_counter() - t

    diff = (ours - stock).abs().max().item()
    print(f"stock open_clip : {len(prompts) / t_stock:9.1f} prompts/s ({t_stock:.2f} s)")
    print(f"idia (cut)      : {len(prompts) / t_ours:9.1f} prompts/s ({t_ours:.2f} s)")
    print(f"ratio           : {t_stock / t_ours:9.2f}x   (target >= 6)")
    print(f"max |diff|      : {diff:.2e}     (target <= 1e-5)")


if __name__ == "__main__":
    main()
