"""The spec parses into clauses with every field, and selection by id or area works."""

from __future__ import annotations

import pytest

from conformance import spec

FIELDS = ("**Provoke.**", "**Observe.**", "**A failure means.**")
AREAS = ("START", "ACCEPT", "ECHO", "CLOSE", "ABORT", "RES", "MUX", "MODEL", "FAULT")


def test_spec_has_a_version_and_clauses_in_every_area() -> None:
    loaded = spec.load()
    assert loaded.version.count(".") == 2, loaded.version
    assert {c.area for c in loaded.clauses.values()} == set(AREAS)


@pytest.mark.parametrize("clause_id", sorted(spec.load().clauses))
def test_every_clause_has_all_its_fields(clause_id: str) -> None:
    clause = spec.load().clauses[clause_id]
    assert clause.level in ("MUST", "SHOULD")
    missing = [f for f in FIELDS if f not in clause.text]
    assert not missing, f"{clause_id} lacks {missing}"


def test_clause_ids_are_numbered_without_gaps_per_area() -> None:
    for area in AREAS:
        numbers = sorted(int(c.split("-")[1]) for c in spec.load().clauses if c.startswith(area))
        assert numbers == list(range(1, len(numbers) + 1)), (area, numbers)


def test_duplicate_clause_is_rejected() -> None:
    text = "Version: 1.0.0\n### ECHO-1 (MUST) A\nrule\n### ECHO-1 (MUST) B\nrule\n"
    with pytest.raises(ValueError, match="ECHO-1 is defined twice"):
        spec.parse(text)


def test_missing_version_is_rejected() -> None:
    with pytest.raises(ValueError, match="Version"):
        spec.parse("### ECHO-1 (MUST) A\nrule\n")


def test_clause_text_stops_at_the_next_heading() -> None:
    parsed = spec.parse("Version: 1.2.3\n### ECHO-1 (MUST) A\nbody\n## Next area\nprose\n")
    assert parsed.clauses["ECHO-1"].text == "body"


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [("ECHO-2", {"ECHO-2"}), ("echo-2, close-1", {"ECHO-2", "CLOSE-1"}), ("START", None)],
)
def test_select_by_id_or_area(wanted: str, expected: set[str] | None) -> None:
    chosen = spec.load().select(wanted)
    if expected is None:
        expected = {c for c in spec.load().clauses if c.startswith("START-")}
    assert chosen == expected


def test_select_unknown_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown clause or area 'ECHO-99'.*ECHO-1"):
        spec.load().select("ECHO-99")
