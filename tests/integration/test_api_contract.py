"""Contract fuzzing: schemathesis generates requests from monitor_api's OpenAPI description and
checks every answer against it (no server error, a documented status code, the documented
content type and shape). A bounded number of examples per operation keeps it a few seconds each.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from easyquant.config import load_settings
from tests.conftest import LiveServer, free_port

TOKEN = "contract-token-1234"


@pytest.fixture(scope="module")
def api_schema(pg_settings) -> Iterator[object]:
    from tests.e2e.browser.seed import seed_backtests

    seed_backtests(pg_settings)
    config = load_settings(
        home=pg_settings.home,
        database_url=pg_settings.database_url,
        api_token=TOKEN,
        # no Airflow here: a trigger is answered 502 at once (a closed port)
        airflow_url=f"http://127.0.0.1:{free_port()}",
    )
    with LiveServer(config) as server:
        schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
        yield schema


def _operations() -> list[tuple[str, str]]:
    """Every (method, path) the app describes, read from the app itself at collection."""
    from monitor_api.app import create_app

    spec = create_app(load_settings(database_url=None)).openapi()
    return [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]


@pytest.mark.parametrize(("method", "path"), _operations())
def test_every_operation_keeps_its_contract(api_schema, method, path) -> None:
    operation = api_schema[path][method]  # type: ignore[index]
    # a sort key, a metric name or a backtest's conf are checked by meaning as well as by
    # shape: a value the schema allows may still be refused (422, naming the field)
    skip = [positive_data_acceptance]
    # with no Airflow, a trigger is the documented 502 (its other checks still run)
    if path.endswith("/trigger"):
        skip.append(not_a_server_error)

    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=operation.as_strategy())
    def check(case) -> None:
        case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"}, excluded_checks=skip)

    check()


def test_the_description_names_every_status_a_route_can_return(api_schema) -> None:
    raw = api_schema.raw_schema  # type: ignore[attr-defined]
    for path, ops in raw["paths"].items():
        for method, op in ops.items():
            codes = set(op["responses"])
            assert {"400", "401", "413"} <= codes, (method, path, codes)
            if method == "post":
                assert {"403", "415"} <= codes, (method, path, codes)
