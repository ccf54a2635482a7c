"""Schemathesis against the OpenAPI document of the real app: no server error."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from tests.api._web import Web


@pytest.fixture
def schema(web: Web) -> schemathesis.BaseSchema:  # type: ignore[name-defined]
    return schemathesis.openapi.from_asgi("/openapi.json", web.app)


def test_no_server_error_anywhere(web: Web, schema) -> None:  # type: ignore[no-untyped-def]
    from schemathesis.checks import not_a_server_error

    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()
        strategy = op.as_strategy()

        @settings(max_examples=15, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case) -> None:  # type: ignore[no-untyped-def]
            response = case.call()
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.path}: {response.status_code}")

        from hypothesis import given

        given(strategy)(run)()
    assert not failures, failures
    assert not_a_server_error is not None
