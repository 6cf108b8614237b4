"""Photoreal refinement of room combinations with ControlNet inpainting (diffusers).

The room pipeline composes first (a product's cut-out pasted where the item was, or the item
erased with a classical fill) and hands the composite here with the mask of the region to refine.
The renderer then, for each combination:

1. crops a square around the mask (with context) and letterboxes it to the model's resolution
   (512 px for SD 1.5, 1024 px for SDXL), so the edit is made at the model's native scale;
2. builds the ControlNet image from the ORIGINAL room outside the mask and the composite inside
   (canny by default; MLSD or depth via controlnet-aux when their weights are configured);
3. conditions on the product photo through IP-Adapter (when loaded), so the product keeps its
   identity, and starts from the composite (``strength`` < 1) rather than from noise;
4. runs all combinations as batches, one ``torch.Generator`` per seed, so a result depends on its
   seed only;
5. pastes the result back through a mask feathered INSIDE the region, so every pixel outside the
   mask is exactly the composite's.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import cv2
import numpy as np
import PIL.Image
import torch

from pipelines.diffusion.control import Annotator, ControlKind, canny_annotator, load_annotator, room_control_image

Family = Literal["sd15", "sdxl"]
BACKENDS = {"sd15": "controlnet-inpaint-sd15", "sdxl": "controlnet-inpaint-sdxl"}
DEFAULT_RESOLUTION = {"sd15": 512, "sdxl": 1024}
DEFAULT_PROMPT = "a photo of a furnished room, interior design, natural light, realistic, high quality"
ERASE_PROMPT = "empty room floor and wall"
NEGATIVE_PROMPT = "blurry, distorted, deformed, low quality, cartoon, text, watermark"


@dataclass
class RoomDiffusionOutput:
    """Result of :meth:`RoomDiffusionRenderer.render`.

    Attributes:
        images: one RGB image per combination, the size of the composite given; identical to it
            outside the mask.
        backend: "controlnet-inpaint-sd15" or "controlnet-inpaint-sdxl".
        seeds: the seed each image was made with (same order).
        timings: seconds: ``control``, ``product_embeds``, ``diffusion``, ``paste``, ``total``
            (for the whole call) and ``per_image`` (total / number of images).
        conditioning: what steered the model: control kind, IP-Adapter used or not, resolution,
            steps, strength, guidance and ControlNet scales.
        control_images: the ControlNet images (model resolution), for inspection.
    """

    images: list[PIL.Image.Image]
    backend: str
    seeds: list[int]
    timings: dict[str, float]
    conditioning: dict = field(default_factory=dict)
    control_images: list[PIL.Image.Image] = field(default_factory=list)


@dataclass(frozen=True)
class _Crop:
    box: tuple[int, int, int, int]  # (x0, y0, x1, y1) in the photo, x1/y1 exclusive
    scaled: tuple[int, int]  # (w, h) of the crop once resized into the model square


def pipeline_class(family: Family):
    """The diffusers pipeline class of ``family``: SD 1.5 or SDXL ControlNet inpainting."""
    from diffusers import StableDiffusionControlNetInpaintPipeline, StableDiffusionXLControlNetInpaintPipeline

    return StableDiffusionControlNetInpaintPipeline if family == "sd15" else StableDiffusionXLControlNetInpaintPipeline


class RoomDiffusionRenderer:
    """ControlNet inpainting of composited room images, SD 1.5 or SDXL family.

    Args:
        pipe: a ``StableDiffusionControlNetInpaintPipeline`` (sd15) or
            ``StableDiffusionXLControlNetInpaintPipeline`` (sdxl); IP-Adapter optionally loaded.
        family: "sd15" or "sdxl".
        device, dtype: where and in what precision the pipeline runs (fp16 on CUDA is the norm).
        resolution: side of the square the model works at; default 512 (sd15) / 1024 (sdxl).
        control: "canny", "mlsd" or "depth"; must match the ControlNet's training.
        annotator: the function making control images (default: canny); see :mod:`.control`.
        ip_adapter_scale: how strongly the product photo steers the result (0..1).
        max_batch: combinations per pipeline call (GPU memory bounds it; CFG doubles it).
        context: fraction of the mask's size added around it on each side of the crop.
        min_crop: smallest crop side in photo pixels, so small items keep some surroundings.
        feather_px: width, in photo pixels, of the blend ramp inside the mask's border.
    """

    def __init__(
        self,
        pipe,
        family: Family,
        *,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        resolution: int | None = None,
        control: ControlKind = "canny",
        annotator: Annotator | None = None,
        ip_adapter_scale: float = 0.6,
        max_batch: int = 8,
        context: float = 0.35,
        min_crop: int = 192,
        feather_px: int = 6,
    ):
        if family not in BACKENDS:
            raise ValueError(f"family must be 'sd15' or 'sdxl', got {family!r}")
        expected = pipeline_class(family)
        if not isinstance(pipe, expected):
            raise ValueError(f"family {family!r} needs a {expected.__name__}, got {type(pipe).__name__}")
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if not 0.0 <= ip_adapter_scale <= 2.0:
            raise ValueError(f"ip_adapter_scale must be in [0, 2], got {ip_adapter_scale}")
        self.family = family
        self.device = torch.device(device) if device is not None else pipe.device
        self.dtype = dtype if dtype is not None else pipe.unet.dtype
        # Cast only when needed: diffusers warns on every dtype cast, even a no-op one.
        self.pipe = pipe.to(self.device) if self.dtype == pipe.unet.dtype else pipe.to(self.device, self.dtype)
        self.pipe.set_progress_bar_config(disable=True)
        # Multiple of the latent grid: VAE factor x the UNet's own downsamplings.
        self.granularity = pipe.vae_scale_factor * 2 ** (len(pipe.unet.config.block_out_channels) - 1)
        self.resolution = resolution or DEFAULT_RESOLUTION[family]
        if self.resolution % self.granularity:
            raise ValueError(f"resolution {self.resolution} must be a multiple of {self.granularity} for this model")
        self.control = control
        self.annotator = annotator or canny_annotator()
        self.ip_adapter_scale = ip_adapter_scale
        self.max_batch = max_batch
        self.context = context
        self.min_crop = min_crop
        self.feather_px = feather_px

    # ------------------------------------------------------------------ construction
    @property
    def backend(self) -> str:
        return BACKENDS[self.family]

    @property
    def has_ip_adapter(self) -> bool:
        """True when IP-Adapter weights and their image encoder are loaded."""
        unet = self.pipe.unet
        return getattr(unet, "encoder_hid_proj", None) is not None and getattr(self.pipe, "image_encoder", None) is not None

    @classmethod
    def from_components(cls, components: dict, family: Family, *, ip_adapter: str | Path | None = None,
                        ip_adapter_weight_name: str = "ip-adapter.safetensors", local_files_only: bool = True,
                        **kwargs) -> "RoomDiffusionRenderer":
        """Build the pipeline from already made components (``unet``, ``controlnet``, ``vae``, ...).

        ``ip_adapter`` is a folder holding ``ip_adapter_weight_name`` and ``image_encoder/``,
        loaded through diffusers' ``load_ip_adapter`` (the same path as real weights).
        """
        pipe = pipeline_class(family)(**components)
        if ip_adapter is not None:
            _load_ip_adapter(pipe, ip_adapter, ip_adapter_weight_name, local_files_only)
        return cls(pipe, family, **kwargs)

    @classmethod
    def from_pretrained(cls, model: str | Path, controlnet: str | Path, family: Family, *,
                        ip_adapter: str | Path | None = None, ip_adapter_weight_name: str | None = None,
                        device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32,
                        local_files_only: bool = True, control: ControlKind = "canny",
                        annotators_dir: str | Path | None = None, settings=None, **kwargs) -> "RoomDiffusionRenderer":
        """Load an inpainting model folder and a ControlNet folder (safetensors only).

        Args:
            model: diffusers folder of an inpainting model (e.g. SD 1.5 inpainting, SDXL inpainting 0.1),
                or a base model (4-channel UNet; diffusers then blends the unmasked latents).
            controlnet: diffusers folder of a ControlNet trained on ``control`` images.
            ip_adapter: folder with ``ip_adapter_weight_name`` and ``image_encoder/``
                (h94/IP-Adapter's ``models/`` or ``sdxl_models/``).
            local_files_only: False only when the user allowed hub downloads.
        """
        from diffusers import ControlNetModel, UniPCMultistepScheduler

        if family not in BACKENDS:
            raise ValueError(f"family must be 'sd15' or 'sdxl', got {family!r}")
        load = {_dtype_kwarg(): dtype, "local_files_only": local_files_only, "use_safetensors": True}
        for what, path in (("inpainting model", model), ("ControlNet", controlnet)):
            if local_files_only and not Path(str(path)).expanduser().is_dir():
                raise FileNotFoundError(f"{what} folder not found: {path}")
        cn = ControlNetModel.from_pretrained(str(controlnet), **load)
        extra = {"safety_checker": None, "requires_safety_checker": False} if family == "sd15" else {}
        pipe = pipeline_class(family).from_pretrained(str(model), controlnet=cn, **extra, **load)
        # UniPC: good images in 20 steps (the models ship DDIM/PNDM/Euler configs).
        pipe.scheduler = UniPCMultistepScheduler.from_config(pipe.scheduler.config)
        if ip_adapter is not None:
            weight = ip_adapter_weight_name or ("ip-adapter_sd15.safetensors" if family == "sd15" else "ip-adapter_sdxl.safetensors")
            _load_ip_adapter(pipe, ip_adapter, weight, local_files_only, settings=settings)
        resolution = kwargs.pop("resolution", None) or DEFAULT_RESOLUTION[family]
        annotator = load_annotator(control, annotators_dir, resolution=resolution, device=str(device), settings=settings)
        return cls(pipe, family, device=device, dtype=dtype, resolution=resolution, control=control,
                   annotator=annotator, **kwargs)

    @classmethod
    def from_settings(cls, settings, family: Family | None = None, **kwargs) -> "RoomDiffusionRenderer":
        """From ``settings``: sd_model/controlnet_model (sd15) or sdxl_model/controlnet_sdxl_model,
        ip_adapter + ip_adapter_weight_name (a family folder, or h94/IP-Adapter's root holding
        ``models/`` and ``sdxl_models/``), controlnet_condition + annotators_dir, device, dtype.

        ``family`` defaults to sd15 when ``sd_model`` is set, else sdxl.

        Raises:
            ValueError: the family's model or ControlNet is not configured.
        """
        if family is None:
            family = "sd15" if settings.sd_model else "sdxl"
        model = settings.sd_model if family == "sd15" else settings.sdxl_model
        controlnet = settings.controlnet_model if family == "sd15" else settings.controlnet_sdxl_model
        env = "RESTYLE_SD_MODEL" if family == "sd15" else "RESTYLE_SDXL_MODEL"
        cn_env = "RESTYLE_CONTROLNET_MODEL" if family == "sd15" else "RESTYLE_CONTROLNET_SDXL_MODEL"
        if not model:
            raise ValueError(f"no {family} inpainting model configured (set {env})")
        if not controlnet:
            raise ValueError(f"no {family} ControlNet configured (set {cn_env})")
        weight = settings.ip_adapter_weight_name
        if family == "sdxl" and weight == "ip-adapter_sd15.safetensors":
            weight = "ip-adapter_sdxl.safetensors"  # the default name is the SD 1.5 one
        ip_adapter = settings.ip_adapter
        if ip_adapter:
            # Pointed at the h94/IP-Adapter repository itself: pick the family's folder.
            sub = Path(ip_adapter).expanduser() / ("models" if family == "sd15" else "sdxl_models")
            if sub.is_dir():
                ip_adapter = str(sub)
        kwargs.setdefault("control", settings.controlnet_condition)
        return cls.from_pretrained(
            model, controlnet, family,
            ip_adapter=ip_adapter, ip_adapter_weight_name=weight,
            device=settings.resolved_device(), dtype=settings.resolved_dtype(),
            local_files_only=not settings.allow_hub_downloads,
            annotators_dir=settings.annotators_dir, settings=settings, **kwargs,
        )

    # ------------------------------------------------------------------ checks
    def check_inputs(self, images, masks, room, product_images, prompts, seeds, num_inference_steps, strength,
                     guidance_scale, controlnet_conditioning_scale) -> None:
        """Raise ValueError naming the first bad argument."""
        if not isinstance(images, (list, tuple)) or not images:
            raise ValueError("images must be a non-empty list of PIL images (one per combination)")
        n = len(images)
        for i, im in enumerate(images):
            if not isinstance(im, PIL.Image.Image):
                raise ValueError(f"images[{i}] must be a PIL image, got {type(im).__name__}")
        if not isinstance(masks, (list, tuple)) or len(masks) != n:
            raise ValueError(f"masks must be a list of {n} arrays (one per image), got {type(masks).__name__} "
                             f"of length {len(masks) if hasattr(masks, '__len__') else '?'}")
        for i, (im, m) in enumerate(zip(images, masks)):
            m = np.asarray(m)
            if m.shape != (im.size[1], im.size[0]):
                raise ValueError(f"masks[{i}] has shape {m.shape}, images[{i}] is {im.size[0]}x{im.size[1]}: "
                                 f"expected ({im.size[1]}, {im.size[0]})")
            if not m.any():
                raise ValueError(f"masks[{i}] is empty: nothing to refine")
        rooms = room if isinstance(room, (list, tuple)) else [room] * n
        if len(rooms) != n:
            raise ValueError(f"room must be one image or a list of {n}, got {len(rooms)}")
        for i, (r, im) in enumerate(zip(rooms, images)):
            if r is not None and (not isinstance(r, PIL.Image.Image) or r.size != im.size):
                raise ValueError(f"room image {i} must be a PIL image of size {im.size}, got "
                                 f"{getattr(r, 'size', type(r).__name__)}")
        if product_images is not None:
            if not isinstance(product_images, (list, tuple)) or len(product_images) != n:
                raise ValueError(f"product_images must be a list of {n} PIL images or None")
            if not all(isinstance(p, PIL.Image.Image) for p in product_images):
                raise ValueError("every product_images entry must be a PIL image (give None for no product at all)")
        if prompts is not None and not isinstance(prompts, str):
            if not isinstance(prompts, (list, tuple)) or len(prompts) != n or not all(isinstance(p, str) for p in prompts):
                raise ValueError(f"prompts must be a string or a list of {n} strings")
        if seeds is not None:
            if not isinstance(seeds, (list, tuple)) or len(seeds) != n:
                raise ValueError(f"seeds must be a list of {n} integers, got {seeds!r}")
            if not all(isinstance(s, (int, np.integer)) and 0 <= s < 2**63 for s in seeds):
                raise ValueError(f"seeds must be non-negative integers, got {seeds!r}")
        if not isinstance(num_inference_steps, int) or num_inference_steps < 1:
            raise ValueError(f"num_inference_steps must be a positive integer, got {num_inference_steps!r}")
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        if int(num_inference_steps * strength) < 1:
            raise ValueError(f"num_inference_steps x strength = {num_inference_steps * strength:.2f} < 1: "
                             "no denoising step would run; raise one of them")
        if guidance_scale < 0:
            raise ValueError(f"guidance_scale must be >= 0, got {guidance_scale}")
        if controlnet_conditioning_scale < 0:
            raise ValueError(f"controlnet_conditioning_scale must be >= 0, got {controlnet_conditioning_scale}")

    # ------------------------------------------------------------------ geometry
    def _crop_for(self, mask: np.ndarray) -> _Crop:
        """A square (when the photo allows) around ``mask`` with ``context`` on each side."""
        h, w = mask.shape
        ys, xs = np.nonzero(mask)
        x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
        side = max(x1 - x0, y1 - y0) * (1 + 2 * self.context)
        side = max(side, self.min_crop)
        bw, bh = int(min(math.ceil(side), w)), int(min(math.ceil(side), h))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        bx0 = int(np.clip(round(cx - bw / 2), 0, w - bw))
        by0 = int(np.clip(round(cy - bh / 2), 0, h - bh))
        scale = self.resolution / max(bw, bh)
        scaled = (max(1, round(bw * scale)), max(1, round(bh * scale)))
        return _Crop((bx0, by0, bx0 + bw, by0 + bh), scaled)

    def _to_model(self, image: PIL.Image.Image, crop: _Crop, resample) -> PIL.Image.Image:
        """Crop, resize into the model square (aspect kept) and pad by repeating the border."""
        arr = np.asarray(image.crop(crop.box).resize(crop.scaled, resample))
        pad_x, pad_y = self.resolution - crop.scaled[0], self.resolution - crop.scaled[1]
        arr = cv2.copyMakeBorder(arr, 0, pad_y, 0, pad_x, cv2.BORDER_REPLICATE) if (pad_x or pad_y) else arr
        return PIL.Image.fromarray(arr)

    def _feather(self, mask: np.ndarray) -> np.ndarray:
        """Blend weight in [0, 1]: 0 outside ``mask``, ramping to 1 over ``feather_px`` inside it."""
        m = mask.astype(np.uint8)
        if self.feather_px <= 0:
            return m.astype(np.float32)
        # Edge padding: where the mask meets the photo's border there is no unedited pixel to blend to.
        dist = cv2.distanceTransform(np.pad(m, 1, mode="edge"), cv2.DIST_L2, 3)[1:-1, 1:-1]
        return np.clip(dist / self.feather_px, 0.0, 1.0).astype(np.float32) * (m > 0)

    # ------------------------------------------------------------------ conditioning
    def _product_embeds(self, product_images, n: int, do_cfg: bool) -> list[torch.Tensor] | None:
        """IP-Adapter image embeddings, one per combination: a list with one (B or 2B, 1, D) tensor."""
        if not self.has_ip_adapter:
            return None
        if product_images is not None:
            pos, neg = self.pipe.encode_image([_on_white(p) for p in product_images], self.device, 1)
        else:  # erase: zero embeddings with the scale set to 0, so the adapter has no effect
            dim = self.pipe.image_encoder.config.projection_dim
            pos = neg = torch.zeros(n, dim, device=self.device, dtype=self.pipe.image_encoder.dtype)
        pos, neg = pos[:, None], neg[:, None]
        return [torch.cat([neg, pos]) if do_cfg else pos]

    # ------------------------------------------------------------------ rendering
    @torch.inference_mode()
    def render(
        self,
        images: Sequence[PIL.Image.Image],
        masks: Sequence[np.ndarray],
        *,
        room: PIL.Image.Image | Sequence[PIL.Image.Image] | None = None,
        product_images: Sequence[PIL.Image.Image] | None = None,
        prompts: str | Sequence[str] | None = None,
        negative_prompt: str = NEGATIVE_PROMPT,
        seeds: Sequence[int] | None = None,
        num_inference_steps: int = 20,
        strength: float = 0.75,
        guidance_scale: float = 5.0,
        controlnet_conditioning_scale: float = 0.7,
        ip_adapter_scale: float | None = None,
    ) -> RoomDiffusionOutput:
        """Refine each composite inside its mask.

        Args:
            images: composited RGB images, one per combination (any size; all may differ).
            masks: (H, W) bool arrays, True where to refine; H, W of the matching image.
            room: the original photo (one for all, or one per image); its structure drives the
                ControlNet outside the masks. Defaults to the images themselves.
            product_images: the catalogue photo of the product in each combination, for
                IP-Adapter; an RGBA cut-out is flattened onto white first. None for no product (erase).
            prompts: one for all or one per image.
            seeds: one per image (default 0..n-1); the same seed gives the same image.
            strength: 1 repaints the masked region from noise; lower keeps more of the composite.

        Returns:
            :class:`RoomDiffusionOutput`; images equal the composites outside the masks.
        """
        self.check_inputs(images, masks, room, product_images, prompts, seeds, num_inference_steps, strength,
                          guidance_scale, controlnet_conditioning_scale)
        t_start = time.perf_counter()
        n = len(images)
        images = [im.convert("RGB") for im in images]
        masks = [np.asarray(m).astype(bool) for m in masks]
        rooms = list(room) if isinstance(room, (list, tuple)) else [room] * n
        rooms = [(r if r is not None else im).convert("RGB") for r, im in zip(rooms, images)]
        seeds = [int(s) for s in seeds] if seeds is not None else list(range(n))
        prompts = [prompts or DEFAULT_PROMPT] * n if prompts is None or isinstance(prompts, str) else list(prompts)
        timings: dict[str, float] = {}

        # 1-2. crops, model-space inputs and control images
        t0 = time.perf_counter()
        crops = [self._crop_for(m) for m in masks]
        model_images, model_masks, controls = [], [], []
        for im, m, r, c in zip(images, masks, rooms, crops):
            grow = max(1, round(self.feather_px * self.resolution / max(c.box[2] - c.box[0], c.box[3] - c.box[1])))
            model_images.append(self._to_model(im, c, PIL.Image.LANCZOS))
            mask_img = self._to_model(PIL.Image.fromarray(m.astype(np.uint8) * 255), c, PIL.Image.NEAREST)
            mask_arr = np.asarray(mask_img) > 127
            # Padding repeats the border: keep the padded area out of the mask.
            mask_arr[c.scaled[1]:, :] = False
            mask_arr[:, c.scaled[0]:] = False
            controls.append(room_control_image(self._to_model(r, c, PIL.Image.LANCZOS), model_images[-1], mask_arr,
                                               self.annotator))
            # The model repaints a little beyond the paste-back region so the blend ramp has content.
            mask_arr = cv2.dilate(mask_arr.astype(np.uint8), np.ones((2 * grow + 1,) * 2, np.uint8)) > 0
            model_masks.append(PIL.Image.fromarray(mask_arr.astype(np.uint8) * 255))
        timings["control"] = time.perf_counter() - t0

        # 3. product conditioning
        t0 = time.perf_counter()
        do_cfg = guidance_scale > 1 and self.pipe.unet.config.time_cond_proj_dim is None
        embeds = self._product_embeds(product_images, n, do_cfg)
        if self.has_ip_adapter:
            scale = self.ip_adapter_scale if ip_adapter_scale is None else ip_adapter_scale
            self.pipe.set_ip_adapter_scale(scale if product_images is not None else 0.0)
        timings["product_embeds"] = time.perf_counter() - t0

        # 4. diffusion, in batches; one generator per seed (on the CPU: same numbers on any device)
        t0 = time.perf_counter()
        generated: list[PIL.Image.Image] = []
        for s in range(0, n, self.max_batch):
            e = min(n, s + self.max_batch)
            call = dict(
                prompt=prompts[s:e], negative_prompt=[negative_prompt] * (e - s),
                image=model_images[s:e], mask_image=model_masks[s:e], control_image=controls[s:e],
                height=self.resolution, width=self.resolution,
                strength=strength, num_inference_steps=num_inference_steps, guidance_scale=guidance_scale,
                controlnet_conditioning_scale=controlnet_conditioning_scale,
                generator=[torch.Generator("cpu").manual_seed(seed) for seed in seeds[s:e]],
                output_type="pil",
            )
            if embeds is not None:
                # With guidance the tensor is [negatives; positives]: take this chunk of each half.
                call["ip_adapter_image_embeds"] = [
                    torch.cat([t[:n][s:e], t[n:][s:e]]) if do_cfg else t[s:e] for t in embeds
                ]
            generated.extend(self.pipe(**call).images)
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        timings["diffusion"] = time.perf_counter() - t0

        # 5. paste back inside the masks only
        t0 = time.perf_counter()
        out = []
        for im, m, c, gen in zip(images, masks, crops, generated):
            x0, y0, x1, y1 = c.box
            patch = np.asarray(gen.crop((0, 0, *c.scaled)).resize((x1 - x0, y1 - y0), PIL.Image.LANCZOS),
                               dtype=np.float32)
            base = np.asarray(im).copy()
            region = base[y0:y1, x0:x1]
            alpha = self._feather(m[y0:y1, x0:x1])[:, :, None]
            blended = np.clip(np.rint(alpha * patch + (1 - alpha) * region), 0, 255).astype(np.uint8)
            base[y0:y1, x0:x1] = np.where(alpha > 0, blended, region)
            out.append(PIL.Image.fromarray(base))
        timings["paste"] = time.perf_counter() - t0
        timings["total"] = time.perf_counter() - t_start
        timings["per_image"] = timings["total"] / n
        conditioning = dict(
            control=self.control, ip_adapter=bool(self.has_ip_adapter and product_images is not None),
            resolution=self.resolution, steps=num_inference_steps, strength=strength, guidance_scale=guidance_scale,
            controlnet_conditioning_scale=controlnet_conditioning_scale,
        )
        return RoomDiffusionOutput(out, self.backend, seeds, timings, conditioning, controls)

    def erase(self, images: Sequence[PIL.Image.Image], masks: Sequence[np.ndarray], *,
              room: PIL.Image.Image | Sequence[PIL.Image.Image] | None = None, seeds: Sequence[int] | None = None,
              prompt: str = ERASE_PROMPT, num_inference_steps: int = 20, strength: float = 1.0,
              guidance_scale: float = 5.0, controlnet_conditioning_scale: float = 0.7) -> RoomDiffusionOutput:
        """Fill each masked region with the room behind it (no product; IP-Adapter off).

        ``images`` may be the room itself or a classical fill of it (then ``strength`` < 1 keeps
        its continued floor and wall lines); the control image inside the mask comes from it.
        """
        return self.render(images, masks, room=room, product_images=None, prompts=prompt, seeds=seeds,
                           num_inference_steps=num_inference_steps, strength=strength,
                           guidance_scale=guidance_scale, controlnet_conditioning_scale=controlnet_conditioning_scale)


def _dtype_kwarg() -> str:
    """diffusers renamed ``torch_dtype`` to ``dtype`` (the old name warns); use what it knows."""
    from diffusers.utils import deprecation_utils

    return "dtype" if hasattr(deprecation_utils, "_resolve_dtype") else "torch_dtype"


def _on_white(image: PIL.Image.Image) -> PIL.Image.Image:
    """A cut-out (RGBA) flattened onto white, as catalogue photos are; RGB images unchanged."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = PIL.Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return PIL.Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _load_ip_adapter(pipe, folder: str | Path, weight_name: str, local_files_only: bool, settings=None) -> None:
    """Load IP-Adapter weights (+ their CLIP image encoder from ``folder/image_encoder``).

    A SHA-256 pin for the weight file in ``settings.checkpoint_sha256`` is checked first.
    """
    if not weight_name.endswith(".safetensors"):
        raise ValueError(f"IP-Adapter weights must be a .safetensors file (no pickle), got {weight_name!r}")
    folder_path = Path(str(folder)).expanduser()
    if local_files_only:
        if not (folder_path / weight_name).is_file():
            raise FileNotFoundError(f"IP-Adapter weights not found: {folder_path / weight_name}")
        if not (folder_path / "image_encoder").is_dir():
            raise FileNotFoundError(f"IP-Adapter image encoder folder not found: {folder_path / 'image_encoder'}")
    if settings is not None and (folder_path / weight_name).is_file():
        from pipelines.weights import expected_sha256, verify_sha256

        pin = expected_sha256(folder_path / weight_name, settings)
        if pin:
            verify_sha256(folder_path / weight_name, pin)
    pipe.load_ip_adapter(str(folder), subfolder="", weight_name=weight_name, image_encoder_folder="image_encoder",
                         local_files_only=local_files_only)
