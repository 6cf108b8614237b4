"""The run folder's manifest: an append-only JSON Lines journal plus a final sorted JSON file.

Layout of a run folder::

    run.json          what was asked (products, scenes, options), rewritten atomically each start
    manifest.jsonl    one line per finished unit attempt, appended and fsynced (the journal)
    manifest.json     final view: one record per unit, sorted by (product_id, scene_id)
    images/<product>/<scene>.jpg, thumbs/<product>/<scene>.jpg

Resume rule: a unit is done when its latest journal line has status "ok" (and its image exists)
or "skipped" (the product does not fit the scene: rendering again would say the same). Failed
units are retried on the next run. A line cut short by a kill is ignored (the unit is redone).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Iterable

JOURNAL = "manifest.jsonl"
FINAL = "manifest.json"
RUN_INFO = "run.json"
DONE_STATUSES = ("ok", "skipped")


def write_json_atomic(path: Path, data) -> Path:
    """Write ``data`` as JSON to ``path`` via a temp file, fsync and rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, sort_keys=True, ensure_ascii=False)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def read_journal(run_dir: Path) -> list[dict]:
    """Every complete line of the journal, in order. A torn last line (killed mid-write) and any
    line that is not a JSON object are skipped."""
    path = Path(run_dir) / JOURNAL
    if not path.exists():
        return []
    out = []
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break  # torn tail: the process died while writing it
            try:
                rec = json.loads(raw)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict) and "unit" in rec:
                out.append(rec)
    return out


def latest_records(records: Iterable[dict]) -> dict[str, dict]:
    """The latest record per unit key (later lines win)."""
    latest: dict[str, dict] = {}
    for rec in records:
        latest[rec["unit"]] = rec
    return latest


def done_units(run_dir: Path) -> dict[str, dict]:
    """Units that need no more work, keyed by unit key (see the module's resume rule)."""
    run_dir = Path(run_dir)
    out = {}
    for key, rec in latest_records(read_journal(run_dir)).items():
        if rec.get("status") not in DONE_STATUSES:
            continue
        if rec["status"] == "ok" and not (run_dir / rec["image"]).exists():
            continue  # image lost: render again
        out[key] = rec
    return out


class Journal:
    """Appends one record per line and fsyncs it, so a kill loses at most the unit in flight.

    The file is opened in append mode; a torn last line left by a previous kill is cut off
    first, so new lines never get glued onto it.
    """

    def __init__(self, run_dir: Path):
        self.path = Path(run_dir) / JOURNAL
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._repair_tail()
        self._f = open(self.path, "ab")

    def _repair_tail(self) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb+") as f:
            data = f.read()
            if data.endswith(b"\n"):
                return
            f.truncate(data.rfind(b"\n") + 1)
            f.flush()
            os.fsync(f.fileno())

    def append(self, record: dict) -> None:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False).encode() + b"\n"
        self._f.write(line)
        self._f.flush()
        os.fsync(self._f.fileno())

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def finalize(run_dir: Path, unit_keys: Iterable[str] | None = None) -> list[dict]:
    """Write ``manifest.json``: the latest record of each unit (of ``unit_keys`` when given),
    sorted by (product_id, scene_id). Returns the records."""
    run_dir = Path(run_dir)
    latest = latest_records(read_journal(run_dir))
    if unit_keys is not None:
        keys = set(unit_keys)
        latest = {k: v for k, v in latest.items() if k in keys}
    records = sorted(latest.values(), key=lambda r: (r["product_id"], r["scene_id"]))
    write_json_atomic(run_dir / FINAL, {"version": 1, "records": records})
    return records


def load_manifest(run_dir: Path) -> list[dict]:
    """Records of ``manifest.json`` (falls back to the journal when the run never finished)."""
    run_dir = Path(run_dir)
    final = run_dir / FINAL
    if final.exists():
        return json.loads(final.read_text())["records"]
    latest = latest_records(read_journal(run_dir))
    return sorted(latest.values(), key=lambda r: (r["product_id"], r["scene_id"]))
