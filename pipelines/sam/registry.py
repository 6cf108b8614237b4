"""Builders for segment-anything models, by name (like ``segment_anything.sam_model_registry``).

Every builder returns a randomly initialised :class:`segment_anything.modeling.Sam` in eval mode;
weights are loaded separately (see :func:`pipelines.sam.segmenter.load_sam_weights`) so that no
checkpoint is ever read with plain pickle (segment-anything's own builders call ``torch.load``
on whatever file they are given).

``tiny`` is a few-hundred-kilobyte SAM with the same modules as the real ones; it exists so that
tests and smoke runs exercise every SAM path on a CPU in milliseconds. It segments nothing useful.
"""

from __future__ import annotations

from functools import partial
from typing import Callable

import torch
from segment_anything.build_sam import build_sam_vit_b, build_sam_vit_h, build_sam_vit_l
from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer


def build_sam_tiny(img_size: int = 64, embed_dim: int = 32, depth: int = 2, prompt_embed_dim: int = 32) -> Sam:
    """A tiny SAM: ViT encoder of ``depth`` blocks, ``img_size`` px input, patch 8.

    Shapes: the image embedding is (prompt_embed_dim, img_size/8, img_size/8); masks come out at
    4x that and are upscaled by segment-anything to the photo's size.
    """
    if img_size % 8 or prompt_embed_dim % 8:
        raise ValueError(f"img_size ({img_size}) and prompt_embed_dim ({prompt_embed_dim}) must be multiples of 8")
    patch = 8
    grid = img_size // patch
    sam = Sam(
        image_encoder=ImageEncoderViT(
            img_size=img_size,
            patch_size=patch,
            embed_dim=embed_dim,
            depth=depth,
            num_heads=2,
            mlp_ratio=2.0,
            out_chans=prompt_embed_dim,
            qkv_bias=True,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
            use_rel_pos=True,
            window_size=4,
            global_attn_indexes=(depth - 1,),
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=prompt_embed_dim,
            image_embedding_size=(grid, grid),
            input_image_size=(img_size, img_size),
            mask_in_chans=8,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=2, embedding_dim=prompt_embed_dim, mlp_dim=64, num_heads=2),
            transformer_dim=prompt_embed_dim,
            iou_head_depth=3,
            iou_head_hidden_dim=32,
        ),
        # segment-anything's ImageNet normalisation, as in the real models.
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    return sam.eval()


# Real architectures (checkpoint=None: built empty, loaded safely afterwards).
sam_model_registry: dict[str, Callable[[], Sam]] = {
    "vit_h": lambda: build_sam_vit_h(checkpoint=None),
    "vit_l": lambda: build_sam_vit_l(checkpoint=None),
    "vit_b": lambda: build_sam_vit_b(checkpoint=None),
    "tiny": build_sam_tiny,
}


def build_sam(model_type: str) -> Sam:
    """A randomly initialised SAM of ``model_type`` (one of :data:`sam_model_registry`)."""
    try:
        builder = sam_model_registry[model_type]
    except KeyError:
        raise ValueError(f"unknown SAM model type {model_type!r}; known: {', '.join(sam_model_registry)}") from None
    return builder()
