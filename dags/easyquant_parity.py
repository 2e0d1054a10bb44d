"""EasyQuant parity: every night, replay yesterday's live sessions through the backtester.

For each live session that took bars on the date (yesterday, UTC, unless the ``date`` Param
says otherwise), the session's bars are run through the backtester with the same strategy,
parameters, costs and fill timing, and the day's executed orders, fills and P&L are compared
with the session's ledger. Each session's result is a status component
``parity:{session}:{date}`` (state success when identical, failed with the differences listed
otherwise); a summary component ``parity:{date}`` counts them. A difference is a finding, not
a task failure: the tasks fail only when a check cannot run. Sessions are taken by their own
bounds for the date (the UTC day for daily bars, the exchange's trading date for intraday
ones); one that has no bars that day after all is skipped (counted as missing), not different.

Thin on purpose: only ``airflow.sdk``, ``pendulum`` and the standard library at the top.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task

DAG_ID = "easyquant_parity"
SCHEDULE_CRON = "30 1 * * *"  # 01:30 UTC: yesterday's sessions have all closed
SESSION_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"

PARAMS = {
    "date": Param(
        None,
        type=["null", "string"],
        format="date",
        title="Date",
        description="Trading date to check (YYYY-MM-DD). Empty: the day before the run's "
        "data interval ends (yesterday for the nightly run).",
    ),
    "sessions": Param(
        [],
        type="array",
        items={"type": "string", "pattern": SESSION_PATTERN},
        title="Sessions",
        description="Live sessions to check, one per line. Empty: every session with bars "
        "on the date.",
    ),
}


def _target_date(ctx: Any) -> str:
    from easyquant.errors import ConfigError

    value = ctx["params"].get("date")
    if value:
        try:
            return dt.date.fromisoformat(str(value)).isoformat()
        except ValueError:
            raise ConfigError(f"date: expected YYYY-MM-DD, got {value!r}") from None
    end = ctx.get("data_interval_end") or ctx.get("logical_date") or pendulum.now("UTC")
    return (pendulum.instance(end).in_timezone("UTC") - dt.timedelta(days=1)).date().isoformat()


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable(SCHEDULE_CRON, timezone="UTC"),
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    params=PARAMS,
    default_args={"retries": 1, "retry_delay": dt.timedelta(minutes=5)},
    tags=["easyquant", "live", "parity"],
    doc_md=__doc__,
)
def easyquant_parity() -> None:
    @task
    def find_sessions() -> dict[str, Any]:
        """Resolve the date and the sessions to check."""
        from airflow.sdk.exceptions import AirflowFailException

        from easyquant.config import get_settings
        from easyquant.errors import ConfigError
        from easyquant.live.parity import sessions_on

        ctx = get_current_context()
        try:
            date = _target_date(ctx)
        except ConfigError as exc:
            raise AirflowFailException(str(exc)) from exc
        wanted = list(ctx["params"].get("sessions") or [])
        found = sessions_on(get_settings(), date)
        sessions = [s for s in wanted if s in found] if wanted else found
        missing = [s for s in wanted if s not in found]
        return {"date": date, "sessions": sessions, "missing": missing}

    @task
    def check(plan: dict[str, Any]) -> list[dict[str, Any]]:
        """Run parity for each session and report each result through status."""
        from easyquant.config import get_settings
        from easyquant.errors import EasyQuantError
        from easyquant.live.parity import NoBars, check_parity, report_parity

        ctx = get_current_context()
        parent = f"dag_run:{DAG_ID}:{ctx['ti'].run_id}"
        out: list[dict[str, Any]] = []
        for session in plan["sessions"]:
            try:
                report = check_parity(get_settings(), session, plan["date"])
            except NoBars:
                # no bars that day after all (nothing to compare): skipped, not different
                out.append({"session": session, "skipped": True})
                continue
            except EasyQuantError as exc:
                report = {
                    "session": session,
                    "date": plan["date"],
                    "identical": False,
                    "bars": 0,
                    "orders": {},
                    "fills": {},
                    "pnl": {},
                    "differences": [f"parity could not run: {exc}"],
                    "summary": f"session {session} on {plan['date']}: {exc}",
                }
            report_parity(report, parent_id=parent)
            out.append(
                {k: report[k] for k in ("session", "identical", "summary")}
                | {"differences": len(report["differences"])}
            )
        return out

    @task
    def summarise(plan: dict[str, Any], results: list[dict[str, Any]]) -> dict[str, Any]:
        """Report how many sessions matched the backtest on the date."""
        from easyquant import status

        ctx = get_current_context()
        date = plan["date"]
        skipped = [r["session"] for r in results if r.get("skipped")]
        results = [r for r in results if not r.get("skipped")]
        missing = [*plan["missing"], *skipped]
        differing = [r["session"] for r in results if not r["identical"]]
        msg = f"{len(results)} session(s) on {date}: " + (
            f"{len(differing)} differ from the backtest ({', '.join(differing)})"
            if differing
            else "all identical to the backtest"
        )
        if missing:
            msg += f"; no bars for {', '.join(missing)}"
        status.report(
            f"parity:{date}",
            kind="parity",
            name=f"parity {date}",
            state="failed" if differing else "success",
            progress=1.0,
            message=msg,
            metrics={
                "sessions": len(results),
                "differing": len(differing),
                "missing": len(missing),
            },
            attrs={"date": date, "differing": differing, "missing": missing},
            parent_id=f"dag_run:{DAG_ID}:{ctx['ti'].run_id}",
            heartbeat_interval=86_400.0,
        )
        return {"date": date, "sessions": len(results), "differing": differing}

    plan = find_sessions()
    summarise(plan, check(plan))


easyquant_parity()
