"""`python -m luigi_tasks.reference_docs`: rewrite the docs' tables that the code already knows.

docs/schemas.md's column tables come from schema.py (names, Arrow and ClickHouse types, nullability)
and schema_notes.py; docs/settings.md's table from the luigi.Config classes in config.py. Each is a
block between `<!-- generated: NAME -->` and `<!-- end generated -->`; the prose around it is
hand-written. tests/test_reference_docs.py fails when a file on disk differs from what this renders.
"""
import re
import sys
from pathlib import Path

import luigi

from . import config, warehouse
from .datasets import DATASETS
from .schema_notes import NOTES

ROOT = Path(__file__).resolve().parent.parent
END = "<!-- end generated -->"
# Where each setting lives: luigi.cfg sections as config.py declares them, then BhavcopyETL's own.
SETTINGS = ("storage", "nse", "clickhouse", "calendar", "tracking", "retries", "actions")
_ENV_WORDS = re.compile(r"\s*\(env [A-Z_]+\)|^env [A-Z_]+(; )?")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def schemas() -> str:
    """One table per dataset: its columns as the lake and ClickHouse store them."""
    parts = []
    for dataset in DATASETS.values():
        notes = NOTES.get(dataset.table, {})
        unknown = sorted(set(notes) - set(dataset.schema.names))
        if unknown:
            raise ValueError(f"schema_notes.NOTES[{dataset.table!r}] names no column of the schema: {unknown}")
        ch_types = dict(warehouse.clickhouse_columns(dataset.schema, dataset.low_cardinality))
        parts += [
            f"### `{dataset.table}` (dataset `{dataset.name}`)",
            "",
            f"One row per ({', '.join(dataset.key)}) and day. ClickHouse: `MergeTree`, "
            f"`PARTITION BY toYYYYMM(trade_date)`, `ORDER BY ({', '.join(dataset.order_by)})`.",
            "",
            "| column | Arrow type | nullable | ClickHouse type | notes |",
            "|---|---|---|---|---|",
            *(f"| `{field.name}` | {field.type} | {'yes' if field.nullable else 'no'} | `{ch_types[field.name]}` "
              f"| {_cell(notes.get(field.name, ''))} |" for field in dataset.schema),
            "",
        ]
    return "\n".join(parts).rstrip("\n")


def _default(parameter: luigi.Parameter) -> str:
    value = parameter._default
    if value is luigi.parameter._no_value:
        return "(required)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    shown = parameter.serialize(value)
    return f"`{shown}`" if shown != "" else "(empty)"


def _setting_rows(section: str, task_class: type, env_vars: dict) -> list[str]:
    rows = []
    for name, parameter in task_class.get_params():
        if section == "BhavcopyETL" and name == "date":
            continue  # a command-line argument, not a setting
        env = f"`{env_vars[name]}`" if name in env_vars else ""
        description = _ENV_WORDS.sub("", parameter.description or "").strip()
        rows.append(f"| `[{section}] {name}` | {env} | {_cell(_default(parameter))} | {_cell(description)} |")
    return rows


def settings() -> str:
    """Every option of config.py's sections and of `[BhavcopyETL]`: env var, default, description."""
    from .tasks import BhavcopyETL

    rows = ["| setting | env | default | meaning |", "|---|---|---|---|"]
    for section in SETTINGS:
        task_class = getattr(config, section)
        rows += _setting_rows(section, task_class, getattr(task_class, "env_vars", {}))
    rows += _setting_rows("BhavcopyETL", BhavcopyETL, {})
    return "\n".join(rows)


BLOCKS = {"docs/schemas.md": {"schemas": schemas}, "docs/settings.md": {"settings": settings}}


def rewrite(text: str, name: str, body: str, file: str = "") -> str:
    """`text` with the block `name` replaced by `body`; a missing marker is an error, never skipped."""
    start = f"<!-- generated: {name} -->"
    pattern = re.compile(re.escape(start) + r"\n.*?" + re.escape(END), re.S)
    if len(pattern.findall(text)) != 1:
        raise ValueError(f"{file}: needs exactly one '{start}' ... '{END}' block")
    return pattern.sub(lambda _: f"{start}\n{body}\n{END}", text)


def rendered(root: Path = ROOT) -> dict[Path, str]:
    """Each generated file's text as it should be, from the file on disk and the code."""
    out = {}
    for file, blocks in BLOCKS.items():
        path = root / file
        text = path.read_text(encoding="utf-8")
        for name, render in blocks.items():
            text = rewrite(text, name, render(), file)
        out[path] = text
    return out


def main() -> int:
    for path, text in rendered().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            print(f"rewrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
