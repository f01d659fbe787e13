"""Move a lake written with zero-padded partitions (`month=06/day=08`) to today's (`month=6/day=8`).

Each day's file is moved with its seal by rename, so nothing is copied and a reader sees every
day either at its old place or at its new one. A day already at its new place is left alone and
reported, never overwritten. Emptied folders are removed.
"""
import os
from datetime import date
from pathlib import Path

from . import layout


def misplaced(root: Path, dataset: str) -> list[tuple[Path, Path]]:
    """(old path, new path) of every lake file of `dataset` that is not where layout.lake_path puts it."""
    prefix, moves = f"{layout.lake_name(dataset)}-", []
    for folder, _, files in os.walk(layout.lake_root(root, dataset)):
        for name in files:
            if not (name.startswith(prefix) and name.endswith(".parquet")):
                continue
            try:
                day = date.fromisoformat(name[len(prefix): -len(".parquet")])
            except ValueError:
                continue
            old, new = Path(folder) / name, layout.lake_path(root, dataset, day)
            if old != new:
                moves.append((old, new))
    return sorted(moves)


def migrate(root: Path, dataset: str) -> tuple[int, list[str]]:
    """Move every misplaced file and its seal; returns (files moved, lines about files left alone)."""
    moved, notes = 0, []
    for old, new in misplaced(root, dataset):
        if new.exists():
            notes.append(f"{old.relative_to(root)}: left in place, {new.relative_to(root)} already exists")
            continue
        new.parent.mkdir(parents=True, exist_ok=True)
        old_seal, new_seal = layout.seal_path(old), layout.seal_path(new)
        if old_seal.exists():
            os.replace(old_seal, new_seal)  # seal first: the file then arrives at its place sealed
        os.replace(old, new)
        moved += 1
        for folder in (old.parent, old.parent.parent):
            try:
                folder.rmdir()  # only if empty
            except OSError:
                pass
    return moved, notes
