"""Fuzzing the JSON API from its OpenAPI schema with schemathesis (issue 14): every operation,
with an API token and anonymously, with values that follow the schema and values that break
it, must answer without a server error (5xx), and an anonymous caller gets no data. Bounded
to 20 examples per operation and mode so CI stays quick; derandomized, so a failure replays.

The operations are listed at collection time from a schema-only application (an empty
in-memory store); each test then fuzzes the same operation on a populated SQLite store.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from alstrial.services.accounts import create_account
from alstrial.services.api_tokens import create_api_token
from alstrial.store import make_engine, make_session_factory
from alstrial.web.app import create_app
from tests.conftest import Templates
from tests.helpers import ACTOR, enrolled, register

PASSWORD = "correct horse battery"
KEY = "fuzz-secret-key-0123456789abcdefghijklmn"


def _operations(schema: Any) -> dict[str, Any]:
    return {result.ok().label: result.ok() for result in schema.get_all_operations()}


_SCHEMA_ONLY = _operations(
    schemathesis.openapi.from_asgi(
        "/openapi.json", create_app(make_engine("sqlite://"), secret_key=KEY)
    )
)
# Values that break the schema exist for constrained query and body values (any text is a
# valid path segment).
CASES = [(label, "positive") for label in sorted(_SCHEMA_ONLY)] + [
    (label, "negative")
    for label, operation in sorted(_SCHEMA_ONLY.items())
    if len(operation.query) or len(operation.body)
]


@pytest.fixture(scope="module")
def fuzzed(
    templates: Templates, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[dict[str, Any], str]]:
    url = templates.sqlite_copy("study", tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        enrolled(session, "S01")
        register(session, "S02", site="B")
        create_account(
            session, actor=ACTOR, username="admin", role="administrator", password=PASSWORD
        )
        token = create_api_token(session, username="admin", name="fuzz", days=1).secret
    app = create_app(engine, secret_key=KEY)
    yield _operations(schemathesis.openapi.from_asgi("/openapi.json", app)), token
    engine.dispose()


def _fuzz(operation: Any, mode: Any, headers: dict[str, str], anonymous: bool) -> list[int]:
    statuses: list[int] = []

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=20,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        response = case.call(headers=headers)
        statuses.append(response.status_code)
        # The content, not its text: an export answers a zip (GET /api/export-files).
        where = (case.method, case.formatted_path, response.content[:200])
        assert response.status_code < 500, where
        if anonymous:
            assert response.status_code in (400, 401, 403, 404, 405, 413, 422), where

    run()
    return statuses


@pytest.mark.parametrize(("label", "mode"), CASES)
@pytest.mark.parametrize("who", ["token", "anonymous"])
def test_no_server_error(
    fuzzed: tuple[dict[str, Any], str], label: str, who: str, mode: str
) -> None:
    operations, token = fuzzed
    headers = {"Authorization": f"Bearer {token}"} if who == "token" else {}
    generation = schemathesis.GenerationMode(mode)
    operation = operations[label]
    statuses = _fuzz(operation, generation, headers, anonymous=who == "anonymous")
    if who == "token" and mode == "positive" and not len(operation.path_parameters):
        assert any(status < 300 for status in statuses), statuses  # the fuzz reached the data


def test_the_schema_documents_every_refusal_and_csv() -> None:
    document = create_app(make_engine("sqlite://"), secret_key=KEY).openapi()
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            missing = {"400", "401", "403", "404", "409", "422"} - set(operation["responses"])
            assert not missing, f"{method.upper()} {path} does not document {sorted(missing)}"
    export = document["paths"]["/api/export/{frame}"]["get"]["responses"]["200"]["content"]
    assert "text/csv" in export
