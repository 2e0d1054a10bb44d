"""One ingest request, parsed and checked once; the CLI, the ETL DAGs, the demo and the API use it.

:func:`parse_request` turns a mapping (CLI arguments, DAG Params, a JSON body) into an
:class:`IngestRequest` or raises ConfigError naming the first bad field. Symbols are stored in
their canonical spelling, the frequency and calendar in their canonical names; with no calendar,
it follows from the symbols' exchange.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from easyquant.errors import ConfigError

if TYPE_CHECKING:
    from easyquant.config import Settings
    from easyquant.data.batch import Source
    from easyquant.data.ingest import IngestResult, Progress


class IngestRequest(BaseModel):
    """What to ingest, from where, and how."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = "synthetic"
    symbols: tuple[str, ...] | None = None
    path: str | None = None
    symbol: str | None = None  # the symbol of a file without a symbol column
    format: str = "auto"
    columns: dict[str, str] = Field(default_factory=dict)
    tz: str | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    freq: str = "1d"
    calendar: str | None = None
    full: bool = False
    policy: Literal["reject", "quarantine"] = "reject"
    seed: int = 42
    exchange: str | None = None  # ccxt: the exchange id
    batch_size: int = Field(default=10, ge=1, le=1000)

    @field_validator("source")
    @classmethod
    def _source(cls, value: str) -> str:
        from easyquant.data.sources import SOURCES

        if value not in SOURCES:
            raise ConfigError(f"source: expected one of {SOURCES}, got {value!r}")
        return value

    @field_validator("symbols", mode="before")
    @classmethod
    def _symbols(cls, value: Any) -> tuple[str, ...] | None:
        from easyquant.data.batch import check_symbol
        from easyquant.data.symbols import canonical

        if value is None or value == "" or value == []:
            return None
        if isinstance(value, str):
            value = value.replace("\n", ",").split(",")
        names = [str(s).strip() for s in value if str(s).strip()]
        return tuple(dict.fromkeys(check_symbol(canonical(s)) for s in names)) or None

    @field_validator("symbol")
    @classmethod
    def _symbol(cls, value: str | None) -> str | None:
        from easyquant.data.batch import check_symbol

        return check_symbol(value, option="symbol") if value else None

    @field_validator("freq")
    @classmethod
    def _freq(cls, value: str) -> str:
        from easyquant.data.frequency import parse_freq

        return parse_freq(value or "1d").name

    @field_validator("calendar")
    @classmethod
    def _calendar(cls, value: str | None) -> str | None:
        from easyquant.data.calendars import calendar_name

        return calendar_name(value) if value else None

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        from easyquant.data.layouts import check_format

        return check_format(value)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _date(cls, value: Any, info: Any) -> Any:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip()[:10])
            except ValueError:
                raise ConfigError(
                    f"{info.field_name}: expected a date like 2024-01-31, got {value!r}"
                ) from None
        return value

    @model_validator(mode="after")
    def _whole(self) -> IngestRequest:
        if self.start and self.end and self.start > self.end:
            raise ConfigError(f"start/end: start {self.start} is after end {self.end}")
        if self.source in ("csv", "parquet") and not self.path:
            raise ConfigError(f"path: the {self.source} source needs --path FILE_OR_DIR")
        if self.source == "synthetic":
            if not self.symbols:
                raise ConfigError("symbols: the synthetic source needs at least one symbol")
            if not self.resolved_calendar:
                raise ConfigError("calendar: the synthetic source needs a calendar, e.g. XNYS")
        return self

    @property
    def resolved_calendar(self) -> str | None:
        """The calendar given, else the one the symbols' exchange implies."""
        if self.calendar or not self.symbols:
            return self.calendar
        from easyquant.data.symbols import calendar_of

        return calendar_of(list(self.symbols))

    def make_source(self, settings: Settings | None = None) -> Source:
        """Build the source this request reads."""
        from easyquant.data.sources import make_source

        return make_source(
            self.source,
            path=self.path,
            symbol=self.symbol,
            columns=self.columns,
            tz=self.tz,
            calendar=self.resolved_calendar,
            seed=self.seed,
            format=self.format,
            exchange=self.exchange,
            settings=settings,
        )

    def run(
        self,
        settings: Settings | None = None,
        *,
        symbols: list[str] | None = None,
        progress: Progress | None = None,
        record: bool = True,
    ) -> IngestResult:
        """Ingest (``symbols`` narrows the request to one batch of its symbols)."""
        from easyquant.data.ingest import ingest

        return ingest(
            self.make_source(settings),
            freq=self.freq,
            symbols=symbols or (list(self.symbols) if self.symbols else None),
            start=self.start.isoformat() if self.start else None,
            end=self.end.isoformat() if self.end else None,
            calendar=self.resolved_calendar,
            full=self.full,
            policy=self.policy,
            settings=settings,
            progress=progress,
            record=record,
        )


def parse_request(data: Mapping[str, Any]) -> IngestRequest:
    """Return the checked request; raise ConfigError naming the first bad field."""
    try:
        return IngestRequest.model_validate({k: v for k, v in data.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "request"
        raise ConfigError(f"{field}: {err['msg']} (got {err.get('input')!r})") from None
