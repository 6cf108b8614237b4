"""Diffusion backend for rooms: ControlNet inpainting (SD 1.5 / SDXL) + IP-Adapter, via diffusers."""

from pipelines.diffusion.control import canny_annotator, load_annotator, room_control_image
from pipelines.diffusion.renderer import (
    BACKENDS,
    DEFAULT_PROMPT,
    ERASE_PROMPT,
    RoomDiffusionOutput,
    RoomDiffusionRenderer,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_PROMPT",
    "ERASE_PROMPT",
    "RoomDiffusionOutput",
    "RoomDiffusionRenderer",
    "canny_annotator",
    "load_annotator",
    "room_control_image",
]
