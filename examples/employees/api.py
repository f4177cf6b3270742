"""The employees GraphQL API: graphql-core executing the schema in ``schema.graphql`` over in-memory data."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLResolveInfo

SEED: tuple[dict[str, Any], ...] = (
    {"id": 1, "name": "Ada", "mood": "CURIOUS", "salary": 120_000},
    {"id": 2, "name": "Grace", "mood": "CALM", "salary": 125_000},
    {"id": 3, "name": "Linus", "mood": "TIRED", "salary": 110_000},
)


class EmployeesAPI:
    """In-memory data and the root resolvers graphql-core calls (``root_value``)."""

    def __init__(self) -> None:
        self.employees = {e["id"]: dict(e) for e in SEED}

    def root_value(self) -> dict[str, Any]:
        return {"employees": self._employees, "updateEmployeeMood": self._update_employee_mood}

    def _employees(self, _info: GraphQLResolveInfo) -> list[dict[str, Any]]:
        return list(self.employees.values())

    def _update_employee_mood(self, _info: GraphQLResolveInfo, employeeID: int, mood: str) -> dict[str, Any]:
        employee = self.employees.get(employeeID)
        if employee is None:
            raise ValueError(f"no employee {employeeID}")
        employee["mood"] = mood
        return employee
