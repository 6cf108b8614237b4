"""Safe checkpoint loading: the only way restyle reads model weights from disk.

A ``.pt``/``.pth``/``.bin``/``.ckpt`` file is a Python pickle, and unpickling runs code. So:

- ``.safetensors`` files are read with :func:`safetensors.torch.load_file` (no code at all);
- pickle-based files are read with ``torch.load(weights_only=True)``, whose restricted
  unpickler only rebuilds tensors and plain containers and refuses anything else (``os.system``,
  ``eval``, arbitrary classes) *before* calling it;
- an optional SHA-256 pin per file (``settings.checkpoint_sha256``, ``{path: hex digest}``) is
  checked before either loader opens the file.

Who calls it: every loader of a local checkpoint. The segment-anything checkpoint
(``pipelines/sam``: build the model with ``checkpoint=None`` then
``model.load_state_dict(load_state_dict(settings.sam_checkpoint, settings=settings))``), the
EfficientNet-Lite0 ``.pth`` (``catalog/embeddings.py``), and any other ``.pt``/``.pth`` file.
diffusers/transformers folders are loaded by those libraries with ``use_safetensors=True``.

Example::

    from pipelines.weights import load_state_dict
    state = load_state_dict(settings.sam_checkpoint, settings=settings)
    model.load_state_dict(state)
"""

from __future__ import annotations

import hashlib
import os
import pickle
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.settings import Settings

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


class WeightsError(ValueError):
    """A checkpoint cannot be loaded safely. The message names the file and the reason."""


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (checkpoints are gigabytes)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def expected_sha256(path: str | os.PathLike, settings: "Settings | None") -> str | None:
    """The pin for ``path`` in ``settings.checkpoint_sha256``, matched by resolved path, then
    as written, then by file name (so a pin survives the data folder moving)."""
    if settings is None or not settings.checkpoint_sha256:
        return None
    p = Path(path)
    pins = settings.checkpoint_sha256
    resolved = str(p.expanduser().resolve())
    for key, digest in pins.items():
        if str(Path(key).expanduser().resolve()) == resolved:
            return digest
    return pins.get(str(path)) or pins.get(p.name)


def verify_sha256(path: str | os.PathLike, expected: str) -> None:
    """Raise :class:`WeightsError` unless the file's SHA-256 equals ``expected`` (hex)."""
    expected = expected.strip().lower()
    if len(expected) != 64 or any(c not in "0123456789abcdef" for c in expected):
        raise WeightsError(f"the SHA-256 pin for {Path(path).name} is not 64 hex digits: {expected!r}")
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(
            f"{Path(path).name}: SHA-256 is {actual}, but the settings pin {expected}; "
            "the file changed or is not the checkpoint you meant: refusing to load it"
        )


def load_state_dict(
    path: str | os.PathLike,
    *,
    sha256: str | None = None,
    settings: "Settings | None" = None,
    device: str = "cpu",
) -> dict[str, Any]:
    """Load a checkpoint's tensors without ever running code from the file.

    Args:
        path: a local ``.safetensors`` file, or a ``.pt``/``.pth``/``.bin``/``.ckpt`` pickle.
        sha256: expected hex digest; overrides the pin found in ``settings.checkpoint_sha256``.
        settings: where pins live (optional).
        device: where tensors are placed (``map_location`` for pickles).

    Returns:
        ``{name: torch.Tensor}`` (pickle checkpoints may nest dicts/lists of tensors; a top-level
        ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped when it is the only key).

    Raises:
        WeightsError: missing file, unknown suffix, pin mismatch, or a pickle that needs more than
            tensors to load (a payload, or a pickled class); the payload is never executed.
    """
    import torch

    p = Path(path).expanduser()
    if not p.is_file():
        raise WeightsError(f"checkpoint not found: {p}")
    suffix = p.suffix.lower()
    if suffix not in SAFETENSORS_SUFFIXES + PICKLE_SUFFIXES:
        raise WeightsError(
            f"{p.name}: unknown checkpoint type {suffix!r}; expected .safetensors, or .pt/.pth/.bin/.ckpt"
        )
    pin = sha256 or expected_sha256(p, settings)
    if pin:
        verify_sha256(p, pin)

    if suffix in SAFETENSORS_SUFFIXES:
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return load_file(str(p), device=device)
        except (SafetensorError, OSError, ValueError) as e:
            raise WeightsError(f"{p.name}: not a valid safetensors file ({e})") from None

    try:
        state = torch.load(p, map_location=device, weights_only=True)
    except pickle.UnpicklingError as e:
        # torch's restricted unpickler names the global the file tried to use.
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise WeightsError(
            f"{p.name}: refused: the file needs more than tensors to load (possible code payload); "
            f"convert it to .safetensors from a source you trust. Detail: {first}"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise WeightsError(f"{p.name}: not a readable PyTorch checkpoint ({e})") from None
    if isinstance(state, dict) and len(state) == 1:
        (key, inner), = state.items()
        if key in ("state_dict", "model", "module") and isinstance(inner, dict):
            state = inner
    if not isinstance(state, dict):
        raise WeightsError(f"{p.name}: expected a dict of tensors, found {type(state).__name__}")
    return state
