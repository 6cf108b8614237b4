"""Speed of the diffusion backend: ControlNet inpainting + IP-Adapter, SD 1.5 at 512 px, SDXL at 1024 px.

Full-size models with RANDOM weights (the architectures are written out in
``pipelines.diffusion.components``): speed does not depend on weight values, and no weights can
be downloaded. Everything goes through ``RoomDiffusionRenderer.render`` (crop, control image,
IP-Adapter embeddings, batched diffusion, paste back), the path the room pipeline uses.

Baseline, measured in the same run: the same combinations rendered one at a time (batch 1).
The table gives, per family / steps / batch: seconds per call, seconds per combination, the
time for 20 combinations at that batch size, speed-up over the one-at-a-time baseline, and peak
GPU memory.

    .venv/bin/python -m bench.bench_diffusion_gpu                  # GPU: both families, 4 and 20 steps, batch 1..20
    .venv/bin/python -m bench.bench_diffusion_gpu --family sd15 --steps 4 --batch 1 4
    .venv/bin/python -m bench.bench_diffusion_gpu --smoke          # tiny models on the CPU, seconds (used by tests)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import PIL.Image
import torch

from pipelines.diffusion import RoomDiffusionRenderer
from pipelines.diffusion.components import RESOLUTION, random_components, write_random_ip_adapter


def _synthetic_inputs(side: int, seed: int = 0):
    """A 4:3 'room' of long side ``side``, a composite with a pasted block, its mask, a product photo."""
    rng = np.random.default_rng(seed)
    w, h = side, side * 3 // 4
    room = (rng.random((h, w, 3)) * 60 + np.linspace(100, 200, w)[None, :, None]).astype(np.uint8)
    comp = room.copy()
    y0, y1, x0, x1 = h // 3, h * 5 // 6, w // 4, w * 2 // 3
    comp[y0:y1, x0:x1] = (170, 60, 50)
    mask = np.zeros((h, w), bool)
    mask[y0 - 8 : y1 + 8, x0 - 8 : x1 + 8] = True
    product = PIL.Image.fromarray((rng.random((512, 512, 3)) * 255).astype(np.uint8))
    return PIL.Image.fromarray(room), PIL.Image.fromarray(comp), mask, product


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} threads)"


def build_renderer(family: str, size: str, device: torch.device, dtype: torch.dtype, ip_adapter: bool,
                   workdir: Path, max_batch: int) -> RoomDiffusionRenderer:
    comps = random_components(family, size, device=device, dtype=dtype)
    kwargs = dict(resolution=RESOLUTION[(family, size)], max_batch=max_batch, device=device, dtype=dtype)
    if size == "tiny":
        kwargs["min_crop"] = 16
    if not ip_adapter:
        return RoomDiffusionRenderer.from_components(comps, family, **kwargs)
    folder = write_random_ip_adapter(workdir / f"ip_{family}_{size}", comps["unet"], family, size,
                                     device=device, dtype=dtype)
    return RoomDiffusionRenderer.from_components(comps, family, ip_adapter=folder, **kwargs)


def time_render(r: RoomDiffusionRenderer, inputs, batch: int, steps: int, repeats: int, device: torch.device) -> dict:
    room, comp, mask, product = inputs
    args = dict(room=room, product_images=[product] * batch if r.has_ip_adapter else None,
                seeds=list(range(batch)), num_inference_steps=steps, strength=0.75, guidance_scale=5.0)
    r.render([comp] * batch, [mask] * batch, **args)  # warm-up (kernels, allocator)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        r.render([comp] * batch, [mask] * batch, **args)
        times.append(time.perf_counter() - t0)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else float("nan")
    call = float(np.median(times))
    return dict(call_s=call, per_image_s=call / batch, peak_gib=peak)


def run(args) -> list[dict]:
    device = torch.device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if args.smoke:
        size, dtype = "tiny", torch.float32
    else:
        size = "full"
        dtype = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[args.dtype]
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    print(f"# bench_diffusion_gpu: {platform.platform()}, python {platform.python_version()}, "
          f"torch {torch.__version__}, CPUs {os.cpu_count()}")
    print(f"# device: {_device_name(device)}; models: {size} random weights, {str(dtype).replace('torch.', '')}; "
          f"IP-Adapter: {'on' if args.ip_adapter else 'off'}; repeats: {args.repeats} (median)")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for family in args.family:
            res = RESOLUTION[(family, size)]
            inputs = _synthetic_inputs(max(res * 2, 128))
            try:
                t0 = time.perf_counter()
                r = build_renderer(family, size, device, dtype, args.ip_adapter, Path(tmp), max(args.batch))
                build_s = time.perf_counter() - t0
            except torch.cuda.OutOfMemoryError:
                print(f"# {family}: out of GPU memory while building the models")
                continue
            print(f"# {family}: built in {build_s:.1f} s at {res} px")
            for steps in args.steps:
                base = None
                for batch in sorted(set(args.batch) | {1}):
                    try:
                        m = time_render(r, inputs, batch, steps, args.repeats, device)
                    except torch.cuda.OutOfMemoryError:
                        torch.cuda.empty_cache()
                        rows.append(dict(family=family, resolution=res, steps=steps, batch=batch, oom=True))
                        continue
                    if batch == 1:
                        base = m["per_image_s"]
                    rows.append(dict(family=family, resolution=res, steps=steps, batch=batch, **m,
                                     time_for_20_s=m["per_image_s"] * 20,
                                     speedup_vs_batch1=(base / m["per_image_s"]) if base else float("nan")))
            del r
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(dict(device=_device_name(device), rows=rows), indent=1))
    return rows


def print_table(rows: list[dict]) -> None:
    head = f"{'family':<7}{'px':>6}{'steps':>6}{'batch':>6}{'s/call':>9}{'s/image':>9}{'20 imgs s':>10}{'vs batch1':>10}{'peak GiB':>9}"
    print(head)
    print("-" * len(head))
    for r in rows:
        if r.get("oom"):
            print(f"{r['family']:<7}{r['resolution']:>6}{r['steps']:>6}{r['batch']:>6}   out of GPU memory")
            continue
        print(f"{r['family']:<7}{r['resolution']:>6}{r['steps']:>6}{r['batch']:>6}{r['call_s']:>9.3f}"
              f"{r['per_image_s']:>9.3f}{r['time_for_20_s']:>10.2f}{r['speedup_vs_batch1']:>9.2f}x{r['peak_gib']:>9.2f}")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", nargs="+", choices=("sd15", "sdxl"), default=["sd15", "sdxl"])
    p.add_argument("--steps", nargs="+", type=int, default=[4, 20])
    p.add_argument("--batch", nargs="+", type=int, default=[1, 4, 8, 20])
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--device", default=None, help="cuda (default when present) or cpu")
    p.add_argument("--dtype", default="float16", choices=("float16", "bfloat16", "float32"))
    p.add_argument("--no-ip-adapter", dest="ip_adapter", action="store_false")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (CPU runs only)")
    p.add_argument("--smoke", action="store_true",
                   help="tiny models on the CPU, 2 steps, batch 1 and 2: checks the code path in seconds")
    p.add_argument("--json", default=None, help="also write the rows to this file")
    args = p.parse_args(argv)
    if args.smoke:
        args.device = args.device or "cpu"
        if args.steps == [4, 20]:
            args.steps = [2]
        if args.batch == [1, 4, 8, 20]:
            args.batch = [1, 2]
        args.repeats = 1
    elif not torch.cuda.is_available() and args.device != "cpu":
        p.error("no CUDA GPU: run on a GPU, pass --device cpu (very slow at full size), or use --smoke")
    if min(args.batch) < 1 or min(args.steps) < 1:
        p.error("--batch and --steps must be >= 1")
    return args


def main(argv=None) -> int:
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    sys.exit(main())
