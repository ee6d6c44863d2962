"""Spec and suite stay in step: every clause has a test, every test names a real clause."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import conformance.suite
from conformance import spec
from conformance.reports import expectations


def suite_tests() -> Iterator[tuple[str, Callable[..., Any]]]:
    for module_info in pkgutil.iter_modules(conformance.suite.__path__):
        module = importlib.import_module(f"conformance.suite.{module_info.name}")
        for name, func in inspect.getmembers(module, inspect.isfunction):
            if name.startswith("test_") and func.__module__ == module.__name__:
                yield f"{module_info.name}::{name}", func


def clause_marks(func: Callable[..., Any]) -> list[str]:
    marks = getattr(func, "pytestmark", [])
    return [m.args[0] for m in marks if m.name == "clause"]


TESTS = sorted(suite_tests())


@pytest.mark.parametrize(("name", "func"), TESTS, ids=[n for n, _ in TESTS])
def test_every_suite_test_names_exactly_one_real_clause(
    name: str, func: Callable[..., Any]
) -> None:
    marks = clause_marks(func)
    assert len(marks) == 1, f"{name} has clause markers {marks}"
    assert marks[0] in spec.load().clauses, f"{name} names unknown clause {marks[0]}"


@pytest.mark.parametrize(("name", "func"), TESTS, ids=[n for n, _ in TESTS])
def test_every_suite_docstring_quotes_its_clause(name: str, func: Callable[..., Any]) -> None:
    doc = inspect.getdoc(func) or ""
    assert doc.startswith(f"{clause_marks(func)[0]}: a failure means"), f"{name}: {doc[:60]!r}"


def test_every_clause_has_a_test() -> None:
    tested = {mark for _, func in TESTS for mark in clause_marks(func)}
    untested = sorted(set(spec.load().clauses) - tested)
    assert not untested, f"clauses without a test: {untested}"


def test_expectations_name_real_tests_and_their_clauses() -> None:
    clause_of_test = {name.split("::")[1]: clause_marks(func)[0] for name, func in TESTS}
    implementations = Path(__file__).resolve().parents[1] / "implementations"
    files = sorted(implementations.rglob(expectations.FILE_NAME))
    assert files, "no expectations file found"
    for path in files:
        for (server, test), known in expectations.load(path).items():
            assert (path.parent / f"{server}.py").exists(), f"{path}: no server {server}"
            assert test in clause_of_test, f"[{server}] {test}: no such test in the suite"
            assert known.clause == clause_of_test[test], f"[{server}] {test}: clause mismatch"


def test_expectations_reject_an_entry_without_why(tmp_path: Path) -> None:
    path = tmp_path / "expectations.toml"
    path.write_text('[srv]\ntest_x = { clause = "ECHO-1", why = " " }\n')
    with pytest.raises(ValueError, match=r"\[srv\] test_x: 'why' must say"):
        expectations.load(path)
