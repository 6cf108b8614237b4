"""Shop the look: which catalogue products appear in a room photo?

Retrieval without a trained detector: the room photo goes through the image network ONCE at a
high resolution; its head feature map is pooled (GeM, p=3) over many windows at several scales
(integral images make each window O(1)), plus any boxes a detector proposes; each catalogue
product is scored by its best window. Catalogue vectors are pooled over the product's own pixels
only (the cut-out's alpha), so the white studio background does not count against a product seen
in a room. Scores are then normalised per category, so that categories whose products always look
"far" from rooms (rugs seen at a slant, mirrors that show the room) still reach the top ranks.

All vectors are float32 and L2-normalised; scores are cosine similarities (or z-scores after the
per-category step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
from PIL import Image

from catalog.efficientnet import MEAN, STD
from catalog.embeddings import ImageEmbedder, _l2n

GEM_P = 3.0
Box = tuple[int, int, int, int]
Detector = Callable[[Image.Image], Sequence[Box]]


def _gem(fmap: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(C, h, w) non-negative -> (C,) generalised mean, optionally weighted by (h, w) weights."""
    f = np.clip(fmap, 1e-6, None) ** GEM_P
    if weights is None:
        m = f.mean(axis=(1, 2))
    else:
        w = weights / max(weights.sum(), 1e-6)
        m = (f * w[None]).sum(axis=(1, 2))
    return m ** (1.0 / GEM_P)


def product_vectors(embedder: ImageEmbedder, cutouts: Sequence[Image.Image], size: int = 224,
                    masked: bool = True, both: bool = False):
    """Catalogue side: (N, 1280) GeM of each cut-out's feature map, over its alpha when ``masked``.

    ``cutouts`` are RGBA (cropped to the product, e.g. ``cutout.crop_to_alpha``); they are flattened on
    white (the network saw products on white in training photos too). ``both`` returns
    ``(masked, plain)`` from one forward pass.
    """
    from catalog.cutout import composite_on
    from catalog.embeddings import letterbox

    rgb = [composite_on(c) for c in cutouts]
    fmaps = embedder.feature_maps(rgb, size)
    out, plain = [], []
    for c, fm in zip(cutouts, fmaps):
        plain.append(_gem(fm))
        if not masked and not both:
            out.append(plain[-1])
            continue
        a = letterbox(Image.merge("RGB", [c.getchannel("A")] * 3), size, fill=(0, 0, 0)).convert("L")
        w = np.asarray(a.resize(fm.shape[::-1][:2], Image.BILINEAR), np.float32) / 255.0
        # Cells the product covers count; the network's receptive field brings the edges in anyway.
        out.append(_gem(fm, w + 0.05))
    if both:
        return _l2n(np.stack(out)), _l2n(np.stack(plain))
    return _l2n(np.stack(out))


@dataclass
class RoomWindows:
    """Pooled window vectors of one room photo: (M, 1280) L2-normalised, and their boxes in pixels."""

    vectors: np.ndarray
    boxes: list[Box]


def room_windows(embedder: ImageEmbedder, image: Image.Image, *, long_side: int = 896,
                 scales: Sequence[float] = (1.0, 0.7, 0.5, 0.35, 0.25), stride: float = 0.5,
                 boxes: Sequence[Box] = (), flip: bool = True) -> RoomWindows:
    """Room side: GeM-pooled windows of the room's feature map at several scales (+ given boxes).

    ``scales`` are window sides as a fraction of the photo's short side; windows are square in
    feature cells and slide by ``stride`` of their side. ``boxes`` (x0, y0, x1, y1 pixels, e.g. from
    a detector) are pooled too. With ``flip`` the mirrored photo's windows are added.
    """
    img = image.convert("RGB")
    W, H = img.size
    s = long_side / max(W, H)
    w, h = max(32, round(W * s / 32) * 32), max(32, round(H * s / 32) * 32)
    views = [img.resize((w, h), Image.BILINEAR)]
    if flip:
        views.append(views[0].transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    vecs, out_boxes = [], []
    for vi, view in enumerate(views):
        with torch.inference_mode():
            # Not letterboxed: the whole photo at its own aspect ratio, normalised like the embedder's input.
            t = torch.from_numpy(np.asarray(view, np.float32) / 255.0).permute(2, 0, 1)[None]
            t = (t - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
            t = t.contiguous(memory_format=torch.channels_last).to(embedder.device)
            fm = embedder._net_or_load().feature_map(t)[0].float().cpu().numpy()
        C, fh, fw = fm.shape
        f3 = np.clip(fm, 1e-6, None) ** GEM_P
        # Integral image: any window's mean in O(C).
        ii = np.zeros((C, fh + 1, fw + 1), np.float64)
        ii[:, 1:, 1:] = f3.cumsum(1).cumsum(2)
        cell_x, cell_y = W / fw, H / fh

        def pool(y0, x0, y1, x1):
            tot = ii[:, y1, x1] - ii[:, y0, x1] - ii[:, y1, x0] + ii[:, y0, x0]
            tot = np.maximum(tot, 0.0)  # cumulative sums can undershoot by rounding
            return (tot / max(1, (y1 - y0) * (x1 - x0))) ** (1 / GEM_P)

        for sc in scales:
            side = max(1, round(sc * min(fh, fw)))
            step = max(1, round(side * stride))
            for y0 in range(0, max(1, fh - side + 1), step):
                for x0 in range(0, max(1, fw - side + 1), step):
                    vecs.append(pool(y0, x0, min(fh, y0 + side), min(fw, x0 + side)))
                    bx = (x0 * cell_x, y0 * cell_y, min(fw, x0 + side) * cell_x, min(fh, y0 + side) * cell_y)
                    if vi == 1:
                        bx = (W - bx[2], bx[1], W - bx[0], bx[3])
                    out_boxes.append(tuple(int(round(v)) for v in bx))
        vecs.append(pool(0, 0, fh, fw))  # the whole photo
        out_boxes.append((0, 0, W, H))
        for bx in boxes:
            x0, y0, x1, y1 = bx
            if vi == 1:
                x0, x1 = W - x1, W - x0
            cx0, cy0 = int(np.floor(x0 / cell_x)), int(np.floor(y0 / cell_y))
            cx1, cy1 = max(cx0 + 1, int(np.ceil(x1 / cell_x))), max(cy0 + 1, int(np.ceil(y1 / cell_y)))
            vecs.append(pool(max(0, cy0), max(0, cx0), min(fh, cy1), min(fw, cx1)))
            out_boxes.append(tuple(int(v) for v in bx))
    return RoomWindows(_l2n(np.stack(vecs).astype(np.float32)), out_boxes)


def score_products(windows: RoomWindows, product_vecs: np.ndarray, categories: Sequence[str] | None = None,
                   top_windows: int = 1) -> np.ndarray:
    """(N,) score per product: its best window's cosine (mean of the best ``top_windows``), then
    z-normalised within each category when ``categories`` is given."""
    sims = product_vecs @ windows.vectors.T  # (N, M)
    if top_windows > 1:
        part = np.partition(sims, -top_windows, axis=1)[:, -top_windows:]
        best = part.mean(axis=1)
    else:
        best = sims.max(axis=1)
    if categories is None:
        return best
    cats = np.asarray(categories)
    out = np.empty_like(best)
    for c in np.unique(cats):
        m = cats == c
        v = best[m]
        out[m] = (v - v.mean()) / (v.std() + 1e-6)
    return out
