"""The backtest request: one model for a single run, a sweep and a walk-forward.

The command line, the backtest DAG, the demo seed and monitor_api's trigger build a
:class:`BacktestRequest` with :meth:`BacktestRequest.parse`, which checks every field that needs
no data (strategy, parameters, grid, market, costs, period) and raises ConfigError naming the
field. What the request describes follows from it: :meth:`~BacktestRequest.config`,
:meth:`~BacktestRequest.points`, :meth:`~BacktestRequest.spec`.

The strategy registry, the market profiles and pandas are imported when a field is checked, not
with this module (which, as part of ``easyquant.backtest``, comes with the package's kernel).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from easyquant.backtest.sizing import MAX_BATCH, MAX_TASKS
from easyquant.errors import ConfigError

if TYPE_CHECKING:
    from easyquant.backtest.config import BacktestConfig
    from easyquant.backtest.store import RunSpec
    from easyquant.config import Settings
    from easyquant.strategy.base import Strategy

COSTS = ("commission", "min_commission", "stamp_duty", "slippage_bps", "max_volume_fraction")
NUMBERS = ("cash", *COSTS, "random", "seed", "points_per_task")
Kind = Literal["backtest", "sweep", "walkforward"]


def _named(field: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; turn its ConfigError into a ValueError that pydantic files under the field
    (the message without a repeated ``field:`` prefix)."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        msg = str(exc)
        raise ValueError(msg[len(field) + 2 :] if msg.startswith(f"{field}: ") else msg) from None


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _object(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` as a dict with text keys (empty when not given); a list of
    ``NAME=VALUE`` texts (the command line's repeated options) is one too."""
    if _blank(value):
        return {}
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        pairs = [v.partition("=") for v in value]
        bad = [
            v for v, (name, sep, _) in zip(value, pairs, strict=True) if not (sep and name.strip())
        ]
        if bad:
            raise ValueError(f"{bad[0]!r}: expected NAME=VALUE")
        return {name.strip(): val.strip() for name, _, val in pairs}
    if not isinstance(value, Mapping):
        raise ValueError(f"expected an object of {what}, got {value!r}")
    return {str(k): v for k, v in value.items()}


def parse_values(text: str) -> list[str]:
    """Parse ``a,b,c`` or a range ``start:stop:step`` (stop inclusive) into value strings."""
    text = text.strip()
    if ":" in text and "," not in text:
        parts = text.split(":")
        if len(parts) not in (2, 3):
            raise ConfigError(f"grid range {text!r}: expected start:stop[:step]")
        try:
            nums = [float(p) for p in parts]
        except ValueError:
            raise ConfigError(
                f"grid range {text!r}: start, stop and step must be numbers"
            ) from None
        start, stop = nums[0], nums[1]
        step = nums[2] if len(nums) == 3 else 1.0
        if step <= 0 or stop < start:
            raise ConfigError(f"grid range {text!r}: need stop >= start and step > 0")
        count = math.floor((stop - start) / step + 1e-9) + 1
        steps = [start + i * step for i in range(count)]
        return [str(int(v)) if float(v).is_integer() else repr(v) for v in steps]
    vals = [v.strip() for v in text.split(",") if v.strip()]
    if not vals:
        raise ConfigError(f"grid values {text!r}: empty")
    return vals


def _freq(value: str) -> str:
    """The frequency's one spelling (``60min`` is ``1h``)."""
    from easyquant.data.frequency import parse_freq

    return str(parse_freq(value))


def _market(value: str) -> str:
    from easyquant.execution.market import get_profile

    return get_profile(value).name


def _rank_by(value: str) -> str:
    from easyquant.backtest.sweep import check_rank_by

    check_rank_by(value)
    return value


_CHECKS = {"freq": _freq, "market": _market, "rank_by": _rank_by}


class WalkForward(BaseModel):
    """Rolling windows: optimise on ``in_sample`` bars, trade the winner on the next
    ``out_of_sample`` bars, move on by ``step`` bars (default: ``out_of_sample``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    in_sample: int = Field(ge=2, description="in-sample bars per window")
    out_of_sample: int = Field(ge=1, description="out-of-sample bars per window")
    step: int | None = Field(default=None, ge=1, description="bars between windows")


class BacktestRequest(BaseModel):
    """One backtest job: a single run, a sweep over ``grid``, or a walk-forward."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: str = Field(min_length=1, description="built-in name or package.module:Class")
    symbols: list[str] = Field(min_length=1, description="symbols (a list, or 'A,B' text)")
    start: str | None = Field(default=None, description="first day (default: the first bar)")
    end: str | None = Field(default=None, description="last day, inclusive (default: the last)")
    freq: str = Field(default="1d", description="bar frequency: 1m .. 23h, or 1d")
    market: str = Field(default="us", description="market profile: us, cn or crypto")
    cash: float = Field(default=100_000.0, gt=0, allow_inf_nan=False, description="starting cash")
    commission: float | None = Field(
        default=None, ge=0, le=0.5, allow_inf_nan=False, description="rate of traded value"
    )
    min_commission: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="minimum commission per order"
    )
    stamp_duty: float | None = Field(
        default=None, ge=0, le=0.5, allow_inf_nan=False, description="rate on sells"
    )
    slippage_bps: float | None = Field(
        default=None, ge=0, le=10_000, allow_inf_nan=False, description="slippage per fill, bps"
    )
    max_volume_fraction: float | None = Field(
        default=None,
        gt=0,
        le=1,
        allow_inf_nan=False,
        description="a fill takes at most this fraction of the bar's volume, the rest works "
        "on later bars (0 < F <= 1; default: no cap)",
    )
    fill: Literal["next_open", "close"] = Field(
        default="next_open", description="when a decision at bar t executes: next_open or close"
    )
    benchmark: str | None = Field(default=None, description="benchmark symbol (default: first)")
    params: dict[str, Any] = Field(default_factory=dict, description="fixed strategy parameters")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="values to search")
    random: int = Field(default=0, ge=0, description="random points of the grid (0: all)")
    seed: int = Field(default=0, description="seed of the random points")
    rank_by: str = Field(default="sharpe", description="metric that ranks a grid's points")
    points_per_task: int | None = Field(
        default=None,
        ge=1,
        le=MAX_BATCH,
        description="grid points per mapped DAG task (empty: chosen, easyquant.backtest.sizing)",
    )
    walkforward: WalkForward | None = None

    # ----- parsing ------------------------------------------------------------------------
    @classmethod
    def parse(cls, raw: Mapping[str, Any] | BacktestRequest) -> BacktestRequest:
        """Return the request ``raw`` describes; raise ConfigError naming each bad field."""
        if isinstance(raw, BacktestRequest):
            return raw
        if not isinstance(raw, Mapping):
            raise ConfigError(f"backtest request: expected an object of fields, got {raw!r}")
        # None, or an empty text, is "not given": the field's default
        given = {k: v for k, v in raw.items() if not _blank(v)}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise ConfigError(describe(exc)) from None

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if value:
                from easyquant.strategy.registry import load_strategy

                _named("strategy", load_strategy, value)
        return value

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = re.split(r"[,\n]", value)
        if not isinstance(value, list | tuple):
            return value
        from easyquant.data.symbols import canonical

        names = [str(s).strip() for s in value if str(s).strip()]
        return list(dict.fromkeys(_named("symbols", canonical, s) for s in names))

    @field_validator("benchmark", mode="before")
    @classmethod
    def _benchmark(cls, value: Any) -> Any:
        if _blank(value):
            return None
        from easyquant.data.symbols import canonical

        return _named("benchmark", canonical, str(value), option="benchmark")

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, value: Any) -> Any:
        if _blank(value):
            return None
        if hasattr(value, "isoformat"):
            value = value.isoformat()
        if not isinstance(value, str):
            raise ValueError(f"expected a date or time (YYYY-MM-DD), got {value!r}")
        import pandas as pd

        try:
            pd.Timestamp(value.strip())
        except (ValueError, TypeError):
            raise ValueError(f"expected a date or time (YYYY-MM-DD), got {value!r}") from None
        return value.strip()

    @field_validator("market", "freq", "rank_by", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        return value.strip() if isinstance(value, str) else value

    @field_validator("freq", "market", "rank_by")
    @classmethod
    def _known(cls, value: str, info: ValidationInfo) -> str:
        name = str(info.field_name)
        return str(_named(name, _CHECKS[name], value))

    @field_validator("params", mode="before")
    @classmethod
    def _params(cls, value: Any) -> Any:
        return _object(value, "name -> value")

    @field_validator("grid", mode="before")
    @classmethod
    def _grid(cls, value: Any) -> Any:
        out: dict[str, list[Any]] = {}
        for key, vals in _object(value, "parameter -> values").items():
            if isinstance(vals, str):
                out[key] = _named("grid", parse_values, vals)
            elif isinstance(vals, list | tuple) and len(vals) > 0:
                out[key] = list(vals)
            else:
                raise ValueError(
                    f"{key}: expected a non-empty list, 'a,b,c' or 'start:stop:step', got {vals!r}"
                )
        return out

    @field_validator(*NUMBERS, mode="before")
    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError(f"expected a number, got {value!r}")
        return value

    @model_validator(mode="after")
    def _whole(self) -> BacktestRequest:
        """Checks between fields: parameters and grid against the strategy, the period."""
        from easyquant.strategy.registry import load_strategy

        _prefixed("params", load_strategy(self.strategy), **self.params)
        if not self.grid and self.walkforward is not None:
            raise ValueError("walkforward: needs a grid to optimise over")
        if not self.grid and self.random:
            raise ValueError("random: needs a grid to draw from")
        if self.start and self.end:
            import pandas as pd

            if pd.Timestamp(self.start) > pd.Timestamp(self.end):
                raise ValueError(f"start/end: start {self.start} is after end {self.end}")
        points = len(_prefixed("grid", self.points))
        tasks = math.ceil(points / (self.points_per_task or MAX_BATCH))
        if tasks > MAX_TASKS:
            raise ValueError(
                f"grid: {points} points in batches of {self.points_per_task or MAX_BATCH} "
                f"make {tasks} tasks, more than {MAX_TASKS}; raise points_per_task"
            )
        return self

    # ----- what the request describes ---------------------------------------------------
    @property
    def kind(self) -> Kind:
        """``walkforward`` with windows, ``sweep`` with a grid, else ``backtest``."""
        if self.walkforward is not None:
            return "walkforward"
        return "sweep" if self.grid else "backtest"

    @property
    def label(self) -> str:
        """A short name for status: the kind (unless a single run), strategy and symbols."""
        head = "" if self.kind == "backtest" else f"{self.kind} "
        return f"{head}{self.strategy} {','.join(self.symbols)}"

    def strategy_class(self) -> type[Strategy]:
        from easyquant.strategy.registry import load_strategy

        return load_strategy(self.strategy)

    def make_strategy(self, params: Mapping[str, Any] | None = None) -> Strategy:
        """Return the strategy with ``params`` (default: the request's fixed parameters)."""
        return self.strategy_class()(**dict(params if params is not None else self.params))

    def config(self, instruments: Mapping[str, Any] | None = None) -> BacktestConfig:
        """Return the engine configuration: cash, the market profile with the cost overrides,
        fills, benchmark and the instrument master's rows ``instruments`` (a run takes
        :meth:`run_config`)."""
        from easyquant.backtest.config import BacktestConfig
        from easyquant.execution.market import get_profile

        costs = {k: getattr(self, k) for k in COSTS}
        profile = get_profile(self.market, **costs)
        return BacktestConfig(
            cash=self.cash,
            market=profile,
            fill=self.fill,
            benchmark=self.benchmark,
            instruments=None if instruments is None else dict(instruments),
        )

    def run_config(self, settings: Settings | None = None) -> BacktestConfig:
        """Return :meth:`config` with the master's rows of the symbols where the market's
        rules depend on them (``cn``: board, ST and suspension periods, listing day), read
        as a live session reads them; every way of running a request runs this."""
        from easyquant.config import get_settings
        from easyquant.data.instruments import master_rows

        return self.config(master_rows(settings or get_settings(), self.market, self.symbols))

    def points(self) -> list[dict[str, Any]]:
        """Return the parameter points to run: the grid's valid combinations (or ``random``
        of them), or the fixed parameters alone."""
        from easyquant.backtest.sweep import grid_points, random_points

        cls = self.strategy_class()
        if not self.grid:
            return [cls(**self.params).param_values]
        if self.random:
            return random_points(cls, self.grid, self.random, self.seed, self.params)
        return grid_points(cls, self.grid, self.params)

    def search(self) -> dict[str, Any]:
        """Return what a sweep or walk-forward run stores as its parameters: the grid and
        how it was searched."""
        out: dict[str, Any] = {"grid": {k: list(v) for k, v in self.grid.items()}}
        if self.random:
            out |= {"random": self.random, "seed": self.seed}
        if self.walkforward is not None:
            out |= self.walkforward.model_dump()
        return out | {"rank_by": self.rank_by}

    def spec(
        self,
        params: Mapping[str, Any],
        kind: str = "backtest",
        parent_id: str | None = None,
        config: BacktestConfig | None = None,
    ) -> RunSpec:
        """Return how a run of this request with ``params`` and ``config`` (default:
        :meth:`config`, no master rows) is stored."""
        from easyquant.backtest.store import RunSpec

        return RunSpec(
            strategy=self.strategy,
            symbols=list(self.symbols),
            market=self.market,
            params=dict(params),
            config=(config or self.config()).as_dict(),
            freq=self.freq,
            start=self.start,
            end=self.end,
            kind=kind,
            parent_id=parent_id,
        )


def lake_event_fields(extras: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the symbols and frequency the lake's update events name (the last one wins)."""
    out: dict[str, Any] = {}
    for extra in extras:
        if extra.get("symbols"):
            out["symbols"] = list(extra["symbols"])
        if extra.get("freq"):
            out["freq"] = extra["freq"]
    return out


def _prefixed(field: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; re-raise its ConfigError as a ValueError whose message names ``field``."""
    try:
        return fn(*args, **kwargs)
    except ConfigError as exc:
        raise ValueError(f"{field}: {exc}") from None


def field_errors(exc: ValidationError) -> list[tuple[str, str]]:
    """Return pydantic's errors as (field, message) pairs; ``field`` is dotted for a nested
    field (``walkforward.in_sample``, ``grid.fast``)."""
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        if err["type"] == "missing":
            msg = "required"
        elif err["type"] == "extra_forbidden":
            msg = "unknown field"
        elif not err["type"].startswith("value_error") and "input" in err:
            msg = f"{msg}, got {err['input']!r}"
        if not field:  # a check between fields names its field first: "params: ..."
            field, _, msg = msg.partition(": ")
        out.append((field, msg))
    return out


def describe(exc: ValidationError) -> str:
    """Return pydantic's errors as ``field: message`` joined by ``; ``."""
    return "; ".join(f"{field}: {msg}" for field, msg in field_errors(exc))


def check_given(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Return the (field, message) errors of the fields ``raw`` gives, as a run's conf over the
    DAG's Params: a field it leaves out keeps its Param's default, so "required" is no error.
    The checks between fields run when ``strategy`` and ``symbols`` are given."""
    given = {k: v for k, v in raw.items() if not _blank(v)}
    try:
        BacktestRequest.model_validate(given)
    except ValidationError as exc:
        return [(f, m) for f, m in field_errors(exc) if m != "required"]
    return []
