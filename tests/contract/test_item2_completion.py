"""Issue 8, item 2: ``completion/complete`` reaches the prompt or template its ``ref`` names, so it is
decided like ``prompts/get`` or ``resources/read`` of it; with ``hidden_calls="not_found"`` a hidden ref
answers exactly like a missing one."""

from __future__ import annotations

from typing import Any

import pytest
from mcp.types import Completion

from ..adapters.hr import add_hr_primitives
from .conftest import Install, ServerKind, assert_refused_like, skip_unless

TEMPLATE = "hr://employees/{employee_id}"
KNOWN_REFS = {("ref/prompt", "performance_review"), ("ref/resource", TEMPLATE)}


def hr_with_completion(kind: ServerKind, completed: list[str]) -> Any:
    server = kind.new("hr")
    add_hr_primitives(server, [])

    async def complete(ref: Any, argument: Any, context: Any) -> Any:
        # As a user writes it: values for the prompt and template it knows, nothing for anything else.
        key = (ref.type, getattr(ref, "name", None) or getattr(ref, "uri", None))
        if key not in KNOWN_REFS:
            return None
        completed.append(str(key[1]))
        return Completion(values=["alice", "bob"])

    skip_unless(kind.add_completion, f"{kind.name} serves no completion/complete")
    assert kind.add_completion is not None
    kind.add_completion(server, complete)
    return server


def completion(ref: dict[str, str]) -> dict[str, Any]:
    name = "employee_id" if ref["type"] == "ref/resource" else "employee"
    return {"ref": ref, "argument": {"name": name, "value": "a"}}


PROMPT_REF = {"type": "ref/prompt", "name": "performance_review"}
TEMPLATE_REF = {"type": "ref/resource", "uri": TEMPLATE}


@pytest.mark.parametrize(
    ("ref", "like_method", "like_params"),
    [
        pytest.param(
            PROMPT_REF, "prompts/get", {"name": "performance_review", "arguments": {"employee": "a"}}, id="prompt"
        ),
        pytest.param(TEMPLATE_REF, "resources/read", {"uri": "hr://employees/7"}, id="template"),
    ],
)
async def test_a_ref_the_token_cannot_use_is_refused_like_using_it(
    server_kind: ServerKind,
    install: Install,
    ref: dict[str, str],
    like_method: str,
    like_params: dict[str, Any],
) -> None:
    completed: list[str] = []
    guarded = await install(hr_with_completion(server_kind, completed))

    like = await guarded.ask([], like_method, like_params)
    answer = await guarded.ask([], "completion/complete", completion(ref))

    assert_refused_like(answer, like)
    assert completed == []


@pytest.mark.parametrize("ref", [PROMPT_REF, TEMPLATE_REF], ids=["prompt", "template"])
async def test_a_ref_the_token_can_use_is_completed(
    server_kind: ServerKind, install: Install, ref: dict[str, str]
) -> None:
    completed: list[str] = []
    guarded = await install(hr_with_completion(server_kind, completed))

    answer = await guarded.ask(["hr:review", "employees:read"], "completion/complete", completion(ref))

    assert answer.result is not None, answer.whole()
    assert answer.result["completion"]["values"] == ["alice", "bob"]


@pytest.mark.parametrize(
    ("hidden", "missing"),
    [
        pytest.param(PROMPT_REF, {"type": "ref/prompt", "name": "no_such_prompt"}, id="prompt"),
        pytest.param(TEMPLATE_REF, {"type": "ref/resource", "uri": "hr://no-such/{employee_id}"}, id="template"),
    ],
)
async def test_not_found_a_hidden_ref_answers_like_a_missing_one(
    server_kind: ServerKind,
    install: Install,
    hidden: dict[str, str],
    missing: dict[str, str],
) -> None:
    completed: list[str] = []
    guarded = await install(hr_with_completion(server_kind, completed), hidden_calls="not_found")
    hidden_name, missing_name = hidden.get("name") or hidden["uri"], missing.get("name") or missing["uri"]

    hidden_answer = await guarded.ask(["unrelated:scope"], "completion/complete", completion(hidden))
    missing_answer = await guarded.ask(["unrelated:scope"], "completion/complete", completion(missing))

    assert hidden_answer.whole(hidden_name) == missing_answer.whole(missing_name)
    assert completed == []
