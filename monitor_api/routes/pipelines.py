"""REST routes for pipelines: trigger EasyQuant's Airflow DAGs through Airflow's REST API.

monitor_api logs in to Airflow 3 (``POST /auth/token`` with the configured user and password),
keeps the JWT until Airflow refuses it, and creates DAG runs with
``POST /api/v2/dags/{dag_id}/dagRuns``. Airflow checks the conf against the DAG's Params.
"""

from __future__ import annotations

import threading
from typing import Any, Literal
from urllib.parse import quote

import httpx
from fastapi import APIRouter, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field

from easyquant.config import Settings
from monitor_api.deps import SettingsDep

router = APIRouter(prefix="/api/pipelines", tags=["pipelines"])

AIRFLOW_TIMEOUT = 15.0


class TriggerRequest(BaseModel):
    """A DAG run to create: its params (checked by Airflow against the DAG's Params)."""

    model_config = ConfigDict(extra="forbid")

    conf: dict[str, Any] = Field(
        default_factory=dict, description='The run\'s params, e.g. {"symbols": ["AAA"]}'
    )
    note: str | None = Field(
        default=None, max_length=1000, description="A note shown on the run in Airflow"
    )


class TriggerResult(BaseModel):
    dag_id: str
    dag_run_id: str
    state: str | None
    url: str = Field(description="The run in the Airflow UI")


class AirflowError(Exception):
    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail


class AirflowClient:
    """Airflow 3's REST API as monitor_api's configured user; the JWT is reused until refused."""

    def __init__(self, settings: Settings) -> None:
        self.base = settings.airflow_base_url
        self.user = settings.airflow_user
        self._password = settings.airflow_password
        self._token: str | None = None
        self._lock = threading.Lock()

    def _login(self, client: httpx.Client) -> str:
        r = client.post(
            f"{self.base}/auth/token",
            json={"username": self.user, "password": self._password.get_secret_value()},
        )
        if r.status_code in (401, 403):
            raise AirflowError(
                502,
                f"Airflow at {self.base} refused monitor_api's login as {self.user!r}: check "
                "EASYQUANT_AIRFLOW_USER and EASYQUANT_AIRFLOW_PASSWORD",
            )
        if r.status_code >= 400:
            raise AirflowError(
                502,
                f"Airflow login at {self.base}/auth/token failed: HTTP {r.status_code} "
                f"{_detail(r)}",
            )
        token = r.json().get("access_token")
        if not isinstance(token, str) or not token:
            raise AirflowError(502, f"Airflow login at {self.base}/auth/token gave no token")
        return token

    def trigger(self, dag_id: str, conf: dict[str, Any], note: str | None) -> dict[str, Any]:
        body: dict[str, Any] = {"logical_date": None, "conf": conf}
        if note:
            body["note"] = note
        url = f"{self.base}/api/v2/dags/{quote(dag_id, safe='')}/dagRuns"
        try:
            with httpx.Client(timeout=AIRFLOW_TIMEOUT) as client:
                for attempt in (1, 2):
                    with self._lock:
                        if self._token is None:
                            self._token = self._login(client)
                        token = self._token
                    r = client.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
                    if r.status_code == 401 and attempt == 1:
                        with self._lock:  # expired or revoked: log in again once
                            if self._token == token:
                                self._token = None
                        continue
                    break
        except httpx.HTTPError as exc:
            raise AirflowError(
                502, f"Airflow at {self.base} is unreachable: {type(exc).__name__}: {exc}"
            ) from exc
        if r.status_code in (200, 201):
            return dict(r.json())
        detail = _detail(r)
        if r.status_code == 400:  # the first paragraph names the param; the rest is schema
            first = detail.split("\n\n")[0].strip()
            raise AirflowError(422, f"Airflow refused the run of {dag_id}: {first}")
        if r.status_code == 404:
            raise AirflowError(
                404, f"Airflow does not know DAG {dag_id!r} (not parsed yet, or removed): {detail}"
            )
        if r.status_code == 409:
            raise AirflowError(409, f"Airflow refused the run of {dag_id}: {detail}")
        if r.status_code in (401, 403):
            raise AirflowError(
                502,
                f"Airflow refused monitor_api's user {self.user!r} triggering {dag_id}: "
                f"HTTP {r.status_code} {detail}",
            )
        raise AirflowError(
            502, f"Airflow failed to trigger {dag_id}: HTTP {r.status_code} {detail}"
        )


def _detail(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:500]
    detail = body.get("detail", body) if isinstance(body, dict) else body
    return detail if isinstance(detail, str) else str(detail)[:1000]


def _client(request: Request, settings: Settings) -> AirflowClient:
    client = getattr(request.app.state, "airflow_client", None)
    if client is None:
        client = AirflowClient(settings)
        request.app.state.airflow_client = client
    return client


@router.post(
    "/{dag_id}/trigger",
    response_model=TriggerResult,
    responses={
        404: {"description": "Not an EasyQuant pipeline, or not known to Airflow"},
        422: {"description": "Bad body, or params Airflow refused (the detail says which)"},
        502: {"description": "Airflow unreachable or refusing monitor_api's login"},
    },
)
def trigger(
    dag_id: Literal["easyquant_etl", "easyquant_backtest"],
    body: TriggerRequest,
    request: Request,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Create a manual run of ``easyquant_etl`` or ``easyquant_backtest`` with ``conf`` as its
    params; return the run id and its page in the Airflow UI. A backtest's conf is checked
    first, as the DAG will parse it (``BacktestRequest``): a bad field is a 422 naming it."""
    if dag_id == "easyquant_backtest":
        from easyquant.backtest.request import check_given

        bad = check_given(body.conf)
        if bad:
            raise RequestValidationError(
                [
                    {
                        "type": "value_error",
                        "loc": ("body", "conf", *field.split(".")),
                        "msg": msg,
                        "input": body.conf.get(field.split(".")[0]),
                    }
                    for field, msg in bad
                ]
            )
    try:
        run = _client(request, settings).trigger(dag_id, body.conf, body.note)
    except AirflowError as exc:
        raise HTTPException(exc.status_code, exc.detail) from exc
    run_id = str(run.get("dag_run_id"))
    return {
        "dag_id": dag_id,
        "dag_run_id": run_id,
        "state": run.get("state"),
        "url": f"{settings.airflow_base_url}/dags/{dag_id}/runs/{quote(run_id, safe='')}",
    }
