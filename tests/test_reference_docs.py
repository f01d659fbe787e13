"""The docs agree with the code: generated tables, settings, links, test names, the module map."""
import configparser
import re
from pathlib import Path

import pytest

from luigi_tasks import reference_docs, schema_notes

REPO = Path(__file__).resolve().parent.parent
DOCS = sorted((REPO / "docs").glob("*.md"))
REGENERATE = "docs are out of date with the code: run python -m luigi_tasks.reference_docs"


@pytest.mark.parametrize("path", sorted(reference_docs.BLOCKS), ids=str)
def test_the_generated_tables_are_what_the_code_says(path):
    on_disk = (REPO / path).read_text(encoding="utf-8")
    assert on_disk == reference_docs.rendered(REPO)[REPO / path], f"{path}: {REGENERATE}"


def test_a_changed_schema_changes_the_table(monkeypatch):
    before = reference_docs.schemas()
    monkeypatch.setitem(schema_notes.NOTES["cm_bhavcopy"], "isin", "another note")
    after = reference_docs.schemas()
    assert before != after and "| `isin` | string | yes | `Nullable(String)` | another note |" in after


def test_a_note_for_a_column_the_schema_lacks_fails(monkeypatch):
    monkeypatch.setitem(schema_notes.NOTES["cm_bhavcopy"], "no_such_column", "stale")
    with pytest.raises(ValueError, match=r"cm_bhavcopy.*no_such_column"):
        reference_docs.schemas()


def test_a_missing_marker_is_an_error_not_a_skip():
    with pytest.raises(ValueError, match="generated: settings"):
        reference_docs.rewrite("no markers here\n", "settings", "| table |", "docs/settings.md")
    block = "a\n<!-- generated: settings -->\nold\n<!-- end generated -->\nb\n"
    assert reference_docs.rewrite(block, "settings", "new") == "a\n<!-- generated: settings -->\nnew\n<!-- end generated -->\nb\n"


def test_every_option_the_shipped_luigi_cfg_sets_is_documented():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "luigi.cfg")
    settings = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    undocumented = [f"[{section}] {option}" for section in cfg.sections() for option in cfg[section]
                    if f"`[{section}] {option}`" not in settings]
    assert undocumented == [], f"add these to docs/settings.md: {undocumented}"


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)  # code is not links
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    headings = re.findall(r"^#+ (.+)$", path.read_text(encoding="utf-8"), re.M)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("path", [REPO / "README.md", *DOCS], ids=lambda p: p.name)
def test_every_relative_link_points_at_a_file_that_exists(path):
    broken = []
    for link in _links(path):
        if re.match(r"[a-z]+:", link):
            continue  # http(s), mailto: not ours to check offline
        file, _, anchor = link.partition("#")
        target = (path.parent / file).resolve() if file else path
        if not target.exists() or (anchor and target.suffix == ".md" and anchor not in _anchors(target)):
            broken.append(link)
    assert broken == [], f"{path.relative_to(REPO)}: broken links {broken}"


def test_the_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [gone](missing.md) [bad anchor](#nowhere)\n```\n[code](x.md)\n```\n")
    assert _links(page) == ["#title", "missing.md", "#nowhere"]
    assert _anchors(page) == {"title"}


def test_every_test_the_failure_table_names_exists():
    text = (REPO / "docs" / "failures.md").read_text(encoding="utf-8")
    missing, named = [], 0
    for row in (line for line in text.splitlines() if line.startswith("| ") and ".py" in line):
        current = None
        for ref in re.findall(r"`([^`]*\.py(?:::[^`]+)?|::[^`]+)`", row.rsplit("|", 2)[-2]):
            file, _, name = ref.partition("::")
            current = file or current
            source = REPO / "tests" / current
            named += 1
            if not source.exists() or (name and not re.search(rf"^def {re.escape(name.split('[')[0])}\(",
                                                                source.read_text(encoding="utf-8"), re.M)):
                missing.append(ref if file else f"{current}{ref}")
    assert named > 50 and missing == []


def test_the_readme_names_every_module_of_the_package():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    modules = sorted(path.stem for path in (REPO / "luigi_tasks").rglob("*.py") if path.stem != "__init__")
    assert [name for name in modules if f"{name}.py" not in readme and f"{{{name}" not in readme
            and f",{name}" not in readme] == []
