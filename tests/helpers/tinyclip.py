"""A tiny random CLIP (model + a letters-only tokenizer) written with ``save_pretrained``, for offline tests."""

from __future__ import annotations

import json
from pathlib import Path

import torch

PROJECTION_DIM = 768  # ViT-L/14's: the released GT-Loc and GeoCLIP image MLPs take 768 inputs
IMAGE_SIZE = 32  # ViT-L/14 takes 224 px; a small input keeps the vision tower fast


def save_tiny_clip(folder: Path) -> Path:
    """Write a 1-layer, 16-wide CLIP (seeded) and its tokenizer into ``folder``: ``IMAGE_SIZE`` px pictures in
    16 px patches, ``PROJECTION_DIM``-d image and text features."""
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    tokens = ["<|startoftext|>", "<|endoftext|>", *letters, *(c + "</w>" for c in letters)]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=16).save_pretrained(folder)
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    text = {"vocab_size": len(tokens), "max_position_embeddings": 16, "bos_token_id": 0, "eos_token_id": 1}
    config = CLIPConfig(
        text_config={**small, **text, "pad_token_id": 1},
        vision_config={**small, "image_size": IMAGE_SIZE, "patch_size": 16},
        projection_dim=PROJECTION_DIM,
    )
    with torch.random.fork_rng(devices=[]):  # seeded weights, and the caller's random state left alone
        torch.manual_seed(0)
        CLIPModel(config).save_pretrained(folder)
    return folder
