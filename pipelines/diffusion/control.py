"""ControlNet conditioning images that keep the room's structure.

The control image is made from the ORIGINAL room outside the edited region (walls, floor lines,
other furniture stay where they are) and from the composited image inside it (the pasted
product's outline, or the classical fill's continued floor lines for an erase), so the model
neither redraws the old item nor ignores the new one.

``canny`` needs no weights (OpenCV). ``mlsd`` (straight lines) and ``depth`` (MiDaS) run through
controlnet-aux when their annotator weights are in ``settings.annotators_dir``; the ControlNet
configured must be the one trained on that kind of image.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Literal

import cv2
import numpy as np
import PIL.Image

ControlKind = Literal["canny", "mlsd", "depth"]
CONTROL_KINDS = ("canny", "mlsd", "depth")
# Annotator file names in lllyasviel/Annotators (the folder controlnet-aux loads from).
ANNOTATOR_FILES = {"mlsd": "mlsd_large_512_fp32.pth", "depth": "dpt_hybrid-midas-501f0c75.pt"}

Annotator = Callable[[PIL.Image.Image], PIL.Image.Image]


def canny_annotator(low: int = 100, high: int = 200) -> Annotator:
    """Canny edges of an RGB image as a 3-channel white-on-black PIL image of the same size."""

    def annotate(image: PIL.Image.Image) -> PIL.Image.Image:
        gray = cv2.cvtColor(np.asarray(image.convert("RGB")), cv2.COLOR_RGB2GRAY)
        edges = cv2.Canny(gray, low, high)
        return PIL.Image.fromarray(np.repeat(edges[:, :, None], 3, axis=2))

    return annotate


def _sized(detector: Callable, resolution: int) -> Annotator:
    def annotate(image: PIL.Image.Image) -> PIL.Image.Image:
        out = detector(image, detect_resolution=resolution, image_resolution=resolution, output_type="pil")
        return out.convert("RGB").resize(image.size, PIL.Image.BILINEAR)

    return annotate


def load_annotator(kind: ControlKind, annotators_dir: str | Path | None = None, *, resolution: int = 512,
                   device: str = "cpu", settings=None) -> Annotator:
    """The annotator for ``kind``; ``mlsd``/``depth`` read their weights from ``annotators_dir``.

    Raises:
        ValueError: unknown kind, or ``annotators_dir`` not given for a kind that needs weights.
        FileNotFoundError: the weight file is not in ``annotators_dir``.
    """
    if kind not in CONTROL_KINDS:
        raise ValueError(f"unknown control kind {kind!r}; known: {', '.join(CONTROL_KINDS)}")
    if kind == "canny":
        return canny_annotator()
    if annotators_dir is None:
        raise ValueError(f"control kind {kind!r} needs annotator weights: set RESTYLE_ANNOTATORS_DIR")
    path = Path(annotators_dir).expanduser() / ANNOTATOR_FILES[kind]
    if not path.is_file():
        raise FileNotFoundError(f"{kind} annotator weights not found: {path}")
    if kind == "mlsd":
        from controlnet_aux.mlsd import MLSDdetector
        from controlnet_aux.mlsd.models.mbv2_mlsd_large import MobileV2_MLSD_Large

        from pipelines.sam.segmenter import safe_load_state_dict

        model = MobileV2_MLSD_Large()
        model.load_state_dict(safe_load_state_dict(path, settings=settings), strict=True)
        return _sized(MLSDdetector(model.eval()).to(device), resolution)
    # MiDaS DPT-hybrid: controlnet-aux builds it and loads the file (torch>=2.6 loads weights_only).
    from controlnet_aux import MidasDetector

    return _sized(MidasDetector.from_pretrained(str(path.parent)).to(device), resolution)


def room_control_image(room: PIL.Image.Image, composite: PIL.Image.Image, mask: np.ndarray,
                       annotator: Annotator, *, grow_px: int = 3) -> PIL.Image.Image:
    """Control image: ``annotator(room)`` outside ``mask``, ``annotator(composite)`` inside.

    Args:
        room, composite: RGB images of the same size (W, H).
        mask: (H, W) bool, True where the composite differs from the room (the edited region).
        grow_px: the mask is grown by this much first, so the old item's own outline (which sits
            on the mask border) is not kept from the room.
    """
    if room.size != composite.size or mask.shape != (room.size[1], room.size[0]):
        raise ValueError(f"room {room.size}, composite {composite.size} and mask {mask.shape[::-1]} sizes differ")
    inside = mask.astype(np.uint8)
    if grow_px > 0:
        inside = cv2.dilate(inside, np.ones((2 * grow_px + 1, 2 * grow_px + 1), np.uint8))
    a = np.asarray(annotator(room).convert("RGB"))
    b = np.asarray(annotator(composite).convert("RGB"))
    return PIL.Image.fromarray(np.where(inside[:, :, None].astype(bool), b, a))
