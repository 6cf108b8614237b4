"""Out-of-memory in a handler becomes a "please retry" message, and the next call succeeds."""

from __future__ import annotations

import asyncio
import inspect

import gradio as gr
import pytest
import torch

from app.security import OOM_MESSAGE, guard


def test_memory_errors_become_a_retry_message_and_the_next_call_succeeds():
    calls = {"n": 0}

    def handler(x):
        calls["n"] += 1
        if calls["n"] == 1:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        if calls["n"] == 2:
            raise MemoryError()
        if calls["n"] == 3:
            raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory")
        return x * 2

    g = guard(handler)
    for kind in ("GPU", "CPU", "CPU"):
        with pytest.raises(gr.Error) as e:
            g(1)
        assert str(e.value.message) == OOM_MESSAGE.format(what=kind)
    assert g(21) == 42


def test_guard_handles_generators_and_coroutines_and_leaves_other_errors_alone():
    def gen():
        yield 1
        raise MemoryError()

    out = []
    with pytest.raises(gr.Error, match="retry"):
        for x in guard(gen)():
            out.append(x)
    assert out == [1]

    async def coro():
        raise MemoryError()

    with pytest.raises(gr.Error, match="retry"):
        asyncio.run(guard(coro)())
    with pytest.raises(KeyError):
        guard(lambda: {}["x"])()
    with pytest.raises(RuntimeError, match="shape mismatch"):
        guard(lambda: (_ for _ in ()).throw(RuntimeError("shape mismatch")))()

    def with_request(image, request: gr.Request):
        return image

    assert list(inspect.signature(guard(with_request)).parameters) == ["image", "request"]
    assert inspect.isgeneratorfunction(guard(gen)) and inspect.iscoroutinefunction(guard(coro))


def test_rejected_photo_becomes_its_own_message():
    from pipelines.intake import load_image

    with pytest.raises(gr.Error, match="can't be used: file is empty"):
        guard(load_image)(b"")


@pytest.mark.gpu
def test_real_cuda_out_of_memory_then_next_request_succeeds():
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device")
    free, total = torch.cuda.mem_get_info()

    def allocate(n_bytes: int) -> int:
        x = torch.empty(n_bytes, dtype=torch.uint8, device="cuda")
        x.fill_(1)
        return int(x.sum().item() > 0)

    g = guard(allocate)
    base = torch.cuda.memory_allocated()
    with pytest.raises(gr.Error, match="out of GPU memory"):
        g(total * 2)
    assert g(256 << 20) == 1  # 256 MiB right after the failure
    assert torch.cuda.memory_allocated() - base < (64 << 20)
