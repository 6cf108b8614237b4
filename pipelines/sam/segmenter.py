"""Room segmentation with segment-anything: automatic item proposals and click/box prompts.

Coordinates everywhere are pixels of the photo given, x to the right, y down. Masks are (H, W)
bool arrays of the same size as that photo.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import torch
from segment_anything import SamAutomaticMaskGenerator, SamPredictor
from segment_anything.modeling import Sam

from pipelines.room.types import MaskProposal
from pipelines.sam.registry import build_sam


def safe_load_state_dict(path: str | Path, settings=None) -> dict[str, torch.Tensor]:
    """A state dict from ``path`` without plain pickle (SAM and annotator checkpoints).

    Goes through :func:`pipelines.weights.load_state_dict` (safetensors, or ``torch.load`` with
    ``weights_only=True``, SHA-256 pin from ``settings.checkpoint_sha256``) when that module is
    present; otherwise does the same two safe loads itself, without pinning.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        from pipelines.weights import load_state_dict
    except ImportError:
        load_state_dict = None
    if load_state_dict is not None:
        return load_state_dict(path, settings=settings)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict):
        raise ValueError(f"{path} does not hold a state dict (got {type(state).__name__})")
    return state


load_sam_weights = safe_load_state_dict


def _image_key(image: np.ndarray, image_format: str = "RGB") -> str:
    return hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).hexdigest() + f"{image.shape}{image_format}"


class _CachedPredictor(SamPredictor):
    """SamPredictor that skips ``set_image`` when it is given the photo it already encoded.

    The image encoder is nearly all of SAM's cost; a person clicking several times on the same
    room, or proposals followed by a click, then pays for it once. A downscaled copy of the
    encoded photo can be registered with :meth:`alias`: "setting" it reuses the full-resolution
    embedding and only makes masks come out at the copy's size (cheaper post-processing).
    """

    _key: str | None = None
    _full_size: tuple[int, int] | None = None
    _alias_key: str | None = None

    def set_image(self, image: np.ndarray, image_format: str = "RGB") -> None:
        key = _image_key(image, image_format)
        if self.is_image_set and key == self._key:
            self.original_size = self._full_size
            return
        if self.is_image_set and key == self._alias_key:
            self.original_size = image.shape[:2]
            return
        super().set_image(image, image_format)
        self._key, self._full_size, self._alias_key = key, self.original_size, None

    def alias(self, small: np.ndarray) -> None:
        """Let ``small`` (a resized copy of the encoded photo) share its embedding."""
        self._alias_key = _image_key(small)

    def reset_image(self) -> None:
        # The automatic generator resets after each crop; keep the embedding for the clicks
        # that usually follow on the same photo. ``forget`` really drops it.
        if self._full_size is None:  # nothing cached (also: SamPredictor.__init__)
            super().reset_image()
        else:
            self.original_size = self._full_size

    def forget(self) -> None:
        super().reset_image()
        self._key = self._full_size = self._alias_key = None


class SamSegmenter:
    """Item masks from a SAM model.

    Args:
        sam: a segment-anything ``Sam`` (weights loaded).
        device: where SAM runs ("cpu", "cuda", ...).
        points_per_side: density of the automatic generator's point grid (points_per_side**2 prompts).
            None: 16 on a GPU, 8 on a CPU. The decoder repeats its work per prompt: for ViT-B on
            a 1024-px photo with 2 threads we measured 24 s of CPU for the image encoder and 64 s
            to decode 256 prompts (16 per side), so 8 per side (64 prompts) is what fits a CPU.
            SAM's own default is 32.
        points_per_batch: prompts decoded at once; each holds 3 full-size float masks, so 16 keeps
            a 1024-px photo's decoding under ~200 MB.
        pred_iou_thresh, stability_score_thresh, box_nms_thresh: segment-anything's filters.
        min_area_frac: proposals smaller than this fraction of the photo are dropped (specks are
            never furniture), and holes/islands below it are cleaned by segment-anything.
        max_proposals: keep at most this many proposals, best scores first.
        proposal_side: the automatic generator post-processes its masks at this long side (the
            image encoder still sees the full photo); None for full size. SAM's masks come from
            256x256 logits, so 512 loses little and cuts that cost ~4x on a 1024-px photo.
        name: backend name recorded in every proposal ("sam-vit_b", ...).
    """

    def __init__(
        self,
        sam: Sam,
        device: str | torch.device = "cpu",
        points_per_side: int | None = None,
        points_per_batch: int = 16,
        pred_iou_thresh: float = 0.86,
        stability_score_thresh: float = 0.92,
        box_nms_thresh: float = 0.7,
        min_area_frac: float = 0.002,
        max_proposals: int = 64,
        proposal_side: int | None = 512,
        name: str = "sam",
    ):
        self.device = torch.device(device)
        if points_per_side is None:
            points_per_side = 16 if self.device.type == "cuda" else 8
        if points_per_side < 1:
            raise ValueError(f"points_per_side must be >= 1, got {points_per_side}")
        if not 0.0 <= min_area_frac < 1.0:
            raise ValueError(f"min_area_frac must be in [0, 1), got {min_area_frac}")
        self.sam = sam.to(self.device).eval()
        self.points_per_side = points_per_side
        self.points_per_batch = points_per_batch
        self.pred_iou_thresh = pred_iou_thresh
        self.stability_score_thresh = stability_score_thresh
        self.box_nms_thresh = box_nms_thresh
        self.min_area_frac = min_area_frac
        self.max_proposals = max_proposals
        self.proposal_side = proposal_side
        self.backend = name
        self.predictor = _CachedPredictor(self.sam)
        self.last_timings: dict[str, float] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_checkpoint(
        cls, path: str | Path, model_type: str = "vit_b", device: str | torch.device = "cpu", settings=None, **kwargs
    ) -> "SamSegmenter":
        """Build ``model_type`` (see :data:`pipelines.sam.registry.sam_model_registry`) and load ``path``.

        Raises:
            FileNotFoundError: no file at ``path``.
            ValueError: unknown model type, or the checkpoint does not fit that architecture.
        """
        sam = build_sam(model_type)
        state = load_sam_weights(path, settings=settings)
        try:
            missing, unexpected = sam.load_state_dict(state, strict=False)
        except RuntimeError as e:  # shape mismatches: a checkpoint of another model type
            lines = [ln.strip() for ln in str(e).splitlines() if "size mismatch" in ln]
            raise ValueError(
                f"{path} is not a SAM {model_type} checkpoint: {len(lines)} tensors have other shapes, e.g. {lines[:1]}"
            ) from None
        if missing or unexpected:
            raise ValueError(
                f"{path} is not a SAM {model_type} checkpoint: "
                f"{len(missing)} missing keys (e.g. {missing[:3]}), {len(unexpected)} unexpected (e.g. {unexpected[:3]})"
            )
        return cls(sam, device=device, name=f"sam-{model_type}", **kwargs)

    @classmethod
    def from_settings(cls, settings, **kwargs) -> "SamSegmenter":
        """From ``settings.sam_checkpoint`` / ``sam_model_type`` on ``settings.resolved_device()``."""
        if settings.sam_checkpoint is None:
            raise ValueError("no SAM checkpoint configured (set RESTYLE_SAM_CHECKPOINT)")
        return cls.from_checkpoint(
            settings.sam_checkpoint, settings.sam_model_type, settings.resolved_device(), settings=settings, **kwargs
        )

    # ------------------------------------------------------------------ checks
    @staticmethod
    def check_image(image: np.ndarray) -> None:
        if not isinstance(image, np.ndarray):
            raise ValueError(f"image must be a numpy array (H, W, 3) uint8 RGB, got {type(image).__name__}")
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must have shape (H, W, 3), got {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"image must be uint8 in [0, 255], got {image.dtype}")
        if min(image.shape[:2]) < 2:
            raise ValueError(f"image is too small: {image.shape[1]}x{image.shape[0]} px")

    def check_prompts(self, image: np.ndarray, points, point_labels, box) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        """Validate click/box prompts against ``image``; returns them as float/int arrays."""
        h, w = image.shape[:2]
        if points is None and box is None:
            raise ValueError("give at least one point or a box")
        pts = lbl = bx = None
        if points is not None:
            pts = np.asarray(points, dtype=np.float32).reshape(-1, 2) if len(points) else None
            if pts is None:
                raise ValueError("points is empty")
            if point_labels is None:
                lbl = np.ones(len(pts), dtype=np.int64)  # a plain click means "this item"
            else:
                lbl = np.asarray(point_labels, dtype=np.int64).reshape(-1)
                if len(lbl) != len(pts):
                    raise ValueError(f"{len(pts)} points but {len(lbl)} point_labels")
                if not np.isin(lbl, (0, 1)).all():
                    raise ValueError(f"point_labels must be 1 (item) or 0 (not the item), got {sorted(set(lbl.tolist()))}")
            outside = (pts[:, 0] < 0) | (pts[:, 0] >= w) | (pts[:, 1] < 0) | (pts[:, 1] >= h)
            if outside.any():
                raise ValueError(f"point {tuple(pts[outside][0].tolist())} is outside the {w}x{h} photo")
        elif point_labels is not None:
            raise ValueError("point_labels given without points")
        if box is not None:
            bx = np.asarray(box, dtype=np.float32).reshape(-1)
            if bx.shape != (4,):
                raise ValueError(f"box must be (x0, y0, x1, y1), got {box!r}")
            x0, y0, x1, y1 = bx.tolist()
            if not (x1 > x0 and y1 > y0):
                raise ValueError(f"box must have x1 > x0 and y1 > y0, got {tuple(bx.tolist())}")
            if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
                raise ValueError(f"box {tuple(bx.tolist())} does not overlap the {w}x{h} photo")
            bx = np.clip(bx, 0, [w, h, w, h]).astype(np.float32)
        return pts, lbl, bx

    # ------------------------------------------------------------------ segmentation
    @torch.inference_mode()
    def propose(self, image: np.ndarray) -> list[MaskProposal]:
        """Automatic item proposals for a whole photo.

        Args:
            image: (H, W, 3) uint8 RGB.

        Returns:
            Proposals, best score first; ``score`` is SAM's predicted IoU clipped to [0, 1];
            ``extra`` holds ``stability_score`` and ``area_frac``.
        """
        self.check_image(image)
        t0 = time.perf_counter()
        h, w = image.shape[:2]
        # Encode the full photo once (shared with later clicks); run the generator's mask
        # post-processing (upsampling, stability, RLE, NMS over points_per_side**2 x 3 masks) on
        # a copy of at most proposal_side px, then bring the kept masks back to full size.
        self.predictor.set_image(image)
        small = image
        if self.proposal_side and max(h, w) > self.proposal_side:
            s = self.proposal_side / max(h, w)
            small = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
            self.predictor.alias(small)
        sh, sw = small.shape[:2]
        t_enc = time.perf_counter()
        generator = SamAutomaticMaskGenerator(
            self.sam,
            points_per_side=self.points_per_side,
            points_per_batch=self.points_per_batch,
            pred_iou_thresh=self.pred_iou_thresh,
            stability_score_thresh=self.stability_score_thresh,
            box_nms_thresh=self.box_nms_thresh,
            min_mask_region_area=int(self.min_area_frac * sh * sw),
        )
        generator.predictor = self.predictor  # share the cached image embedding with from_prompts
        records = generator.generate(small)
        self.predictor.reset_image()  # back to full-size masks for clicks
        min_area = self.min_area_frac * h * w
        out = []
        for r in sorted(records, key=lambda r: -r["predicted_iou"]):
            mask = r["segmentation"]
            if small is not image:
                mask = cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_LINEAR) > 0.5
            area = int(mask.sum())
            if area == 0 or area < min_area:
                continue
            p = MaskProposal.from_mask(mask, float(np.clip(r["predicted_iou"], 0.0, 1.0)), source=self.backend)
            p.extra.update(stability_score=float(r["stability_score"]), area_frac=area / (h * w))
            out.append(p)
            if len(out) >= self.max_proposals:
                break
        t1 = time.perf_counter()
        self.last_timings = {"encode_s": t_enc - t0, "generate_s": t1 - t_enc, "propose_s": t1 - t0}
        return out

    @torch.inference_mode()
    def from_prompts(
        self,
        image: np.ndarray,
        points: Sequence[Sequence[float]] | None = None,
        point_labels: Sequence[int] | None = None,
        box: Sequence[float] | None = None,
    ) -> MaskProposal:
        """The item under click and/or box prompts.

        Args:
            image: (H, W, 3) uint8 RGB.
            points: (N, 2) pixel (x, y) clicks.
            point_labels: (N,) 1 = on the item, 0 = not on the item; all 1 when omitted.
            box: (x0, y0, x1, y1) pixels around the item.

        Returns:
            The best of SAM's masks (several candidates for a lone click, whose meaning is
            ambiguous; one otherwise). ``extra["candidates"]`` holds the other scores.

        Raises:
            ValueError: bad prompts, or SAM finds no region there.
        """
        self.check_image(image)
        pts, lbl, bx = self.check_prompts(image, points, point_labels, box)
        t0 = time.perf_counter()
        self.predictor.set_image(image)
        multimask = bx is None and pts is not None and len(pts) == 1
        masks, scores, _ = self.predictor.predict(
            point_coords=pts, point_labels=lbl, box=bx, multimask_output=multimask
        )
        order = np.argsort(-scores)
        for i in order:
            if masks[i].any():
                p = MaskProposal.from_mask(masks[i], float(np.clip(scores[i], 0.0, 1.0)), source=self.backend)
                p.extra["candidates"] = [float(s) for s in scores[order]]
                self.last_timings = {"from_prompts_s": time.perf_counter() - t0}
                return p
        raise ValueError("SAM found no region at these prompts; click inside the item or draw a box around it")
