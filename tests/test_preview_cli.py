"""``restyle preview`` end to end in a subprocess: a kill -9 mid-run, then a rerun that finishes
with every unit exactly once and every image present; bad arguments get clear messages."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.preview import manifest as mf
from tests.preview_helpers import make_scenes

REPO = Path(__file__).resolve().parents[1]


def _catalog_file(path: Path, n: int) -> Path:
    rows = [{"id": f"new-{i:03d}", "title": f"New sofa {i}", "category": "sofa", "price": 100 + i, "currency": "EUR",
             "color_hex": f"#{(i * 40) % 256:02x}60{(i * 90) % 256:02x}"} for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def _cmd(tmp_path, *extra):
    return [sys.executable, "-m", "app.cli", "preview", "--catalog-file", str(tmp_path / "new.jsonl"),
            "--rooms", str(tmp_path / "scenes" / "rooms"), "--out", str(tmp_path / "run"),
            "--renderer", "tests.preview_helpers:make_renderers", "--retries", "0", *extra]


def _env(tmp_path, **kv):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RESTYLE_")}
    env.update(RESTYLE_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(REPO), **kv)
    return env


def test_kill_mid_run_then_resume(tmp_path):
    make_scenes(tmp_path / "scenes", n_rooms=4)
    _catalog_file(tmp_path / "new.jsonl", 15)  # 60 units
    proc = subprocess.Popen(_cmd(tmp_path, "--quiet"), cwd=REPO, env=_env(tmp_path, PREVIEW_TEST_SLEEP="0.05"),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(mf.read_journal(tmp_path / "run")) < 15:
            assert proc.poll() is None, proc.stdout.read().decode()
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    done_at_kill = len(mf.read_journal(tmp_path / "run"))
    assert 15 <= done_at_kill < 60, "the run must be killed mid-way"
    assert not (tmp_path / "run" / mf.FINAL).exists()
    out = subprocess.run(_cmd(tmp_path), cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"({done_at_kill} of 60 units were already done)" in out.stdout
    journal = mf.read_journal(tmp_path / "run")
    keys = [r["unit"] for r in journal]
    assert len(keys) == len(set(keys)) == 60  # nothing journaled twice, nothing lost
    records = mf.load_manifest(tmp_path / "run")
    assert len(records) == 60 and all(r["status"] == "ok" for r in records)
    assert all((tmp_path / "run" / r["image"]).is_file() and (tmp_path / "run" / r["thumb"]).is_file() for r in records)
    assert not list((tmp_path / "run").rglob(".*.tmp"))  # no half-written files left behind
    assert (tmp_path / "run" / "contact_sheet.html").is_file()


def test_cli_reports_bad_input(tmp_path):
    make_scenes(tmp_path / "scenes", n_rooms=1)
    bad = tmp_path / "new.jsonl"
    bad.write_text(json.dumps({"id": "ok-1", "title": "Sofa", "category": "sofa", "color_hex": "#336699"}) + "\n"
                   + json.dumps({"id": "bad-1", "title": "Sofa", "category": "sofa", "price": "cheap"}) + "\n")
    out = subprocess.run(_cmd(tmp_path), cwd=REPO, env=_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "row 2: price" in out.stderr  # the bad row is named, the good one still runs
    assert "1 previews" in out.stdout
    out = subprocess.run(_cmd(tmp_path)[:-6] + ["--rooms", str(tmp_path / "nowhere")], cwd=REPO, env=_env(tmp_path),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "no such scene folder" in out.stderr
