"""Every requirement in ``tests/spec_requirements.py`` is claimed by a test, and every claim names one."""

from __future__ import annotations

import ast
from pathlib import Path

from .spec_requirements import REQUIREMENTS

TESTS = Path(__file__).resolve().parent


def claimed() -> dict[str, list[str]]:
    """``{requirement ID: [test, ...]}`` read from ``@pytest.mark.spec("ID")`` decorators in the tree."""
    found: dict[str, list[str]] = {}
    for path in sorted(TESTS.rglob("test_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for decorator in node.decorator_list:
                if (
                    isinstance(decorator, ast.Call)
                    and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "spec"
                    and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)
                ):
                    found.setdefault(str(decorator.args[0].value), []).append(f"{path.name}::{node.name}")
    return found


def test_every_requirement_has_a_test() -> None:
    assert sorted(set(REQUIREMENTS) - set(claimed())) == []


def test_every_claim_names_a_listed_requirement() -> None:
    assert sorted(set(claimed()) - set(REQUIREMENTS)) == []
