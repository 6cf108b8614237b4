"""Helpers shared by the room tests."""

from __future__ import annotations


def box_iou(a, b) -> float:
    """IoU of two (x0, y0, x1, y1) boxes (torchvision's box_iou)."""
    import torch
    from torchvision.ops import box_iou as _box_iou

    return float(_box_iou(torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32))[0, 0])

