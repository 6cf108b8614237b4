"""Model architectures for the diffusion backend, written out in code, and random-weight builders.

Two uses, neither of which downloads anything:

* tests build ``tiny`` components (diffusers' ``get_dummy_components()`` sizes: 32/64 channels,
  32-64 px) and run every model path on a CPU in seconds;
* ``bench/bench_diffusion_gpu.py`` builds ``full`` components with the exact shapes of
  Stable Diffusion 1.5 inpainting + ControlNet + IP-Adapter (ViT-H image encoder) and SDXL
  inpainting + ControlNet + IP-Adapter (ViT-bigG image encoder); speed does not depend on the
  weight values, so random weights time the real thing.

The tokenizer is a CLIP BPE tokenizer over a byte-level vocabulary with no merges: it splits
text into characters, which is all a random text encoder needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch

Family = Literal["sd15", "sdxl"]
Size = Literal["tiny", "full"]

# --- architectures ------------------------------------------------------------------------

_SD15_UNET = dict(
    sample_size=64, in_channels=9, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    cross_attention_dim=768, attention_head_dim=8,
)
_SD15_CONTROLNET = dict(
    in_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    cross_attention_dim=768, attention_head_dim=8, conditioning_embedding_out_channels=(16, 32, 96, 256),
)
_SDXL_UNET = dict(
    sample_size=128, in_channels=9, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), use_linear_projection=True,
    cross_attention_dim=2048, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816,  # 6 size/crop ids x 256 + 1280 pooled text
)
_SDXL_CONTROLNET = dict(
    in_channels=4, layers_per_block=2, block_out_channels=(320, 640, 1280),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
    transformer_layers_per_block=(1, 2, 10), attention_head_dim=(5, 10, 20), use_linear_projection=True,
    cross_attention_dim=2048, addition_embed_type="text_time", addition_time_embed_dim=256,
    projection_class_embeddings_input_dim=2816, conditioning_embedding_out_channels=(16, 32, 96, 256),
)
_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, layers_per_block=2, block_out_channels=(128, 256, 512, 512),
    down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512,
)
_CLIP_L_TEXT = dict(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                    num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu", projection_dim=768)
_CLIP_BIGG_TEXT = dict(vocab_size=49408, hidden_size=1280, intermediate_size=5120, num_hidden_layers=32,
                       num_attention_heads=20, max_position_embeddings=77, hidden_act="gelu", projection_dim=1280)
# IP-Adapter image encoders: ViT-H/14 for ip-adapter_sd15, ViT-bigG/14 for ip-adapter_sdxl.
_CLIP_H_VISION = dict(hidden_size=1280, intermediate_size=5120, num_hidden_layers=32, num_attention_heads=16,
                      patch_size=14, image_size=224, projection_dim=1024, hidden_act="gelu")
_CLIP_BIGG_VISION = dict(hidden_size=1664, intermediate_size=8192, num_hidden_layers=48, num_attention_heads=16,
                         patch_size=14, image_size=224, projection_dim=1280, hidden_act="gelu")

# diffusers' test sizes (tests/pipelines/controlnet/test_controlnet_inpaint*.py).
_TINY_UNET = dict(
    sample_size=32, in_channels=9, out_channels=4, layers_per_block=2, block_out_channels=(32, 64),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    cross_attention_dim=32,
)
_TINY_CONTROLNET = dict(
    in_channels=4, layers_per_block=2, block_out_channels=(32, 64),
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), cross_attention_dim=32,
    conditioning_embedding_out_channels=(16, 32),
)
_TINY_XL_EXTRA = dict(
    attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
    addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
    projection_class_embeddings_input_dim=80,  # 6 x 8 + 32 pooled
    cross_attention_dim=64,  # two 32-wide text encoders, concatenated
)
_TINY_VAE = dict(
    in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(32, 64),
    down_block_types=("DownEncoderBlock2D",) * 2, up_block_types=("UpDecoderBlock2D",) * 2,
)
_TINY_TEXT = dict(vocab_size=1000, hidden_size=32, intermediate_size=37, num_hidden_layers=5, num_attention_heads=4,
                  max_position_embeddings=77, layer_norm_eps=1e-5, hidden_act="gelu", projection_dim=32)
_TINY_VISION = dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                    patch_size=4, image_size=32, projection_dim=32, hidden_act="gelu")

# Native resolution per family and size: the side the renderer resizes each crop to.
RESOLUTION = {("sd15", "full"): 512, ("sdxl", "full"): 1024, ("sd15", "tiny"): 64, ("sdxl", "tiny"): 64}


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def offline_clip_tokenizer(model_max_length: int = 77):
    """A CLIP tokenizer built in memory: 2 special tokens + 512 byte-level characters, no merges.

    Ids: ``<|startoftext|>`` = 0, ``<|endoftext|>`` = 1 (also pad), characters 2..513.
    """
    from transformers import CLIPTokenizer

    chars = _bytes_to_unicode()
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for c in chars:
            vocab[c + suffix] = len(vocab)
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=model_max_length)


def _text_config(size: Size, which: str):
    from transformers import CLIPTextConfig

    cfg = dict(_TINY_TEXT) if size == "tiny" else dict(_CLIP_L_TEXT if which == "l" else _CLIP_BIGG_TEXT)
    # Match the offline tokenizer's special ids so the pooled output reads the end-of-text token.
    return CLIPTextConfig(bos_token_id=0, eos_token_id=1, pad_token_id=1, **cfg)


def vision_config(family: Family, size: Size):
    from transformers import CLIPVisionConfig

    if size == "tiny":
        return CLIPVisionConfig(**_TINY_VISION)
    return CLIPVisionConfig(**(_CLIP_H_VISION if family == "sd15" else _CLIP_BIGG_VISION))


def random_components(family: Family, size: Size = "tiny", *, unet_in_channels: int = 9, seed: int = 0,
                      device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> dict:
    """Randomly initialised pipeline components for ``family`` at ``size``.

    Returns the keyword arguments of ``StableDiffusionControlNetInpaintPipeline`` (sd15) or
    ``StableDiffusionXLControlNetInpaintPipeline`` (sdxl), with no image encoder (IP-Adapter is
    added through :func:`write_random_ip_adapter` and the real loading path). Modules are built
    directly on ``device`` so full-size builds on a GPU take seconds.
    """
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel, UniPCMultistepScheduler
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    if family not in ("sd15", "sdxl"):
        raise ValueError(f"family must be 'sd15' or 'sdxl', got {family!r}")
    if size not in ("tiny", "full"):
        raise ValueError(f"size must be 'tiny' or 'full', got {size!r}")
    if unet_in_channels not in (4, 9):
        raise ValueError(f"unet_in_channels must be 4 (base model) or 9 (inpainting model), got {unet_in_channels}")
    torch.manual_seed(seed)
    if size == "tiny":
        unet_cfg, cn_cfg = dict(_TINY_UNET), dict(_TINY_CONTROLNET)
        if family == "sdxl":
            unet_cfg.update(_TINY_XL_EXTRA)
            cn_cfg.update(_TINY_XL_EXTRA)
        vae_cfg = _TINY_VAE
    else:
        unet_cfg, cn_cfg = dict(_SD15_UNET if family == "sd15" else _SDXL_UNET), dict(
            _SD15_CONTROLNET if family == "sd15" else _SDXL_CONTROLNET)
        vae_cfg = _VAE
    unet_cfg["in_channels"] = unet_in_channels
    scheduler = UniPCMultistepScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear")
    with torch.device(device):
        comps = dict(
            unet=UNet2DConditionModel(**unet_cfg),
            controlnet=ControlNetModel(**cn_cfg),
            vae=AutoencoderKL(**vae_cfg, **({"scaling_factor": 0.13025} if family == "sdxl" else {})),
            text_encoder=CLIPTextModel(_text_config(size, "l")),
            tokenizer=offline_clip_tokenizer(),
            scheduler=scheduler,
        )
        if family == "sdxl":
            comps["text_encoder_2"] = CLIPTextModelWithProjection(_text_config(size, "bigg"))
            comps["tokenizer_2"] = offline_clip_tokenizer()
    # A new ControlNet's output ("zero") convolutions start at zero, so its control image would
    # have no effect at all; trained ones are not zero. Give them small random values instead.
    g = torch.Generator().manual_seed(seed)
    for conv in [*comps["controlnet"].controlnet_down_blocks, comps["controlnet"].controlnet_mid_block]:
        with torch.no_grad():
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * 0.05)
    for name in ("unet", "controlnet", "vae", "text_encoder", "text_encoder_2"):
        if name in comps:
            comps[name] = (comps[name] if dtype == torch.float32 else comps[name].to(dtype=dtype)).eval()
    if family == "sd15":
        comps.update(safety_checker=None, feature_extractor=None, image_encoder=None, requires_safety_checker=False)
    else:
        comps.update(feature_extractor=None, image_encoder=None)
    return comps


def random_ip_adapter_state_dict(unet, image_embed_dim: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """An IP-Adapter checkpoint for ``unet`` in the original (h94/IP-Adapter) flat layout.

    Keys: ``image_proj.proj.{weight,bias}``, ``image_proj.norm.{weight,bias}`` (4 image tokens of
    ``cross_attention_dim``) and ``ip_adapter.{i}.to_k_ip.weight`` / ``to_v_ip.weight`` where
    ``i`` numbers every attention layer of the UNet in order, so cross-attentions are the odd ones.
    """
    g = torch.Generator().manual_seed(seed)
    cross = unet.config.cross_attention_dim
    tokens = 4
    sd = {
        "image_proj.proj.weight": torch.randn(cross * tokens, image_embed_dim, generator=g) * image_embed_dim**-0.5,
        "image_proj.proj.bias": torch.zeros(cross * tokens),
        "image_proj.norm.weight": torch.ones(cross),
        "image_proj.norm.bias": torch.zeros(cross),
    }
    blocks = unet.config.block_out_channels
    for i, name in enumerate(unet.attn_processors.keys()):
        if name.endswith("attn1.processor"):
            continue  # self-attention: no image tokens
        if name.startswith("mid_block"):
            hidden = blocks[-1]
        elif name.startswith("up_blocks"):
            hidden = list(reversed(blocks))[int(name[len("up_blocks.")])]
        else:
            hidden = blocks[int(name[len("down_blocks.")])]
        for kv in ("to_k_ip", "to_v_ip"):
            sd[f"ip_adapter.{i}.{kv}.weight"] = torch.randn(hidden, cross, generator=g) * cross**-0.5
    return sd


def write_random_ip_adapter(folder: str | Path, unet, family: Family, size: Size = "tiny",
                            weight_name: str = "ip-adapter.safetensors", seed: int = 0,
                            device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> Path:
    """Write a random IP-Adapter (``weight_name`` + ``image_encoder/``) into ``folder``.

    The layout is that of h94/IP-Adapter's ``models/`` folder, so the renderer loads it with
    ``load_ip_adapter(folder, subfolder="", weight_name=...)`` exactly as it loads real weights.
    """
    from safetensors.torch import save_file
    from transformers import CLIPVisionModelWithProjection

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = vision_config(family, size)
    torch.manual_seed(seed)
    with torch.device(device):
        encoder = CLIPVisionModelWithProjection(cfg).to(dtype)
    encoder.save_pretrained(folder / "image_encoder", safe_serialization=True)
    sd = random_ip_adapter_state_dict(unet, cfg.projection_dim, seed=seed)
    save_file({k: v.to(dtype).contiguous() for k, v in sd.items()}, str(folder / weight_name))
    return folder
