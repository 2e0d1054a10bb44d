"""Settings: one place, read from the environment (prefix ``EASYQUANT_``), validated at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from easyquant.errors import ConfigError
from easyquant.redact import redact_url


class Settings(BaseSettings):
    """Every setting EasyQuant reads; each maps to an ``EASYQUANT_<NAME>`` variable."""

    model_config = SettingsConfigDict(env_prefix="EASYQUANT_", extra="ignore", frozen=True)

    home: Path = Field(default=Path(".easyquant"), description="Data lake, logs, embedded DB")
    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL; unset means the embedded server under home",
        repr=False,  # it may hold a password: shown_dsn() is the printable form
    )
    embedded_pg_port: int = Field(default=54329, ge=1024, le=65535)
    mode: Literal["local", "production"] = "local"
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_token: SecretStr | None = None
    tushare_token: SecretStr | None = Field(default=None, description="tushare pro token")
    airflow_port: int = Field(default=8080, ge=1, le=65535)
    airflow_url: str | None = Field(default=None, description="Public base URL of the Airflow UI")
    airflow_user: str = "admin"
    airflow_password: SecretStr = SecretStr("admin")
    airflow_parallelism: int = Field(default=4, ge=1, le=256)
    executor: Literal["local", "celery"] = Field(
        default="local", description="make up's Airflow: one standalone process, or Celery workers"
    )
    workers: int = Field(default=2, ge=1, le=64, description="Celery workers make up starts")
    worker_concurrency: int = Field(default=2, ge=1, le=256, description="Tasks a worker runs")
    celery_broker_url: SecretStr | None = Field(
        default=None, description="Celery broker (unset: a redis-server under the home)"
    )
    task_slots: int = Field(
        default=0, ge=0, le=4096, description="Tasks run at once across workers (0: parallelism)"
    )
    poll_interval: float = Field(default=2.0, gt=0, le=300, description="Bridge poll fallback, s")
    bridge_listen: bool = Field(default=True, description="LISTEN/NOTIFY; false: poll only")
    client_queue_size: int = Field(default=1000, ge=10, le=1_000_000)
    allowed_hosts: str = Field(
        default="",
        description="Comma-separated host names the API answers besides localhost, 127.0.0.1, "
        "::1 and api_host (a foreign Host header is refused: DNS rebinding)",
    )
    max_body_bytes: int = Field(default=1_048_576, ge=1024, le=1 << 30)
    ws_max_message: int = Field(
        default=4096, ge=256, le=1 << 20, description="Largest websocket message a client may send"
    )
    ws_max_clients: int = Field(default=500, ge=1, le=100_000)
    ws_control_queue: int = Field(
        default=16, ge=1, le=10_000, description="Unsent replies a client may have before it is cut"
    )
    snapshot_window: float = Field(
        default=86_400.0,
        gt=0,
        description="The websocket snapshot holds queued and running components and those "
        "updated within this many seconds",
    )
    ws_stall_timeout: float = Field(
        default=30.0, gt=0, le=3600, description="Cut a client whose send has been stuck this long"
    )
    import_roots: str = Field(
        default="",
        description="Comma-separated folders a pipeline's file path may name "
        "(the ETL DAG's path Param); empty: EASYQUANT_HOME/import",
    )
    strategy_modules: str = Field(
        default="easyquant.strategy,strategies",
        description="Comma-separated module prefixes a strategy import path may name "
        "(built-ins, and a 'strategies' package on the Python path)",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    demo: bool = Field(
        default=True,
        description="make up seeds demo data and runs a demo live session (paper broker)",
    )

    @model_validator(mode="before")
    @classmethod
    def _embedded_port(cls, data: Any) -> Any:
        """Unless configured, the embedded server's port is its home's (db.embedded.home_port)."""
        if not isinstance(data, dict):
            return data
        if not (data.get("embedded_pg_port") or data.get("database_url")):
            from easyquant.db.embedded import home_port  # reads the home; imports config

            home = Path(data.get("home") or ".easyquant").expanduser().resolve()
            data = {**data, "embedded_pg_port": home_port(home)}
        return data

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("postgresql", "postgres") or not parts.path.strip("/"):
            raise ValueError(
                "must look like postgresql://user@host:port/dbname, got " + repr(redact_url(value))
            )
        return value

    @field_validator("api_token")
    @classmethod
    def _check_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value() == "":
            return None
        if value is not None and len(value.get_secret_value()) < 8:
            raise ValueError("must be at least 8 characters")
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.mode == "production":
            if self.api_token is None:
                raise ValueError("EASYQUANT_API_TOKEN: required when EASYQUANT_MODE=production")
            if self.airflow_password.get_secret_value() == "admin":
                raise ValueError(
                    "EASYQUANT_AIRFLOW_PASSWORD: the default 'admin' is refused in production"
                )
        return self

    # ----- derived paths -----------------------------------------------------
    @property
    def home_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def parallel_tasks(self) -> int:
        """How many tasks Airflow runs at once: ``task_slots``, else ``airflow_parallelism``."""
        if self.task_slots:
            return self.task_slots
        if self.executor == "celery":
            return self.workers * self.worker_concurrency
        return self.airflow_parallelism

    @property
    def lake_dir(self) -> Path:
        return self.home_dir / "lake"

    @property
    def log_dir(self) -> Path:
        return self.home_dir / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home_dir / "run"

    @property
    def pgdata_dir(self) -> Path:
        return self.home_dir / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.home_dir / "airflow"

    @property
    def import_dirs(self) -> list[Path]:
        """The folders ``import_path`` accepts (``import_roots``, else ``home/import``)."""
        roots = [Path(r.strip()).expanduser() for r in self.import_roots.split(",") if r.strip()]
        return [r.resolve() for r in roots] or [self.home_dir / "import"]

    def import_path(self, path: str | Path, option: str = "path") -> Path:
        """Return ``path`` resolved (links followed) when it lies in an import root; raise
        ConfigError naming ``option`` otherwise, without reading it."""
        resolved = Path(path).expanduser().resolve()
        if not any(resolved.is_relative_to(root) for root in self.import_dirs):
            raise ConfigError(
                f"{option}: {str(path)!r} is outside the import folders "
                f"({', '.join(str(r) for r in self.import_dirs)}); put the files there, or "
                "list their folder in EASYQUANT_IMPORT_ROOTS"
            )
        return resolved

    @property
    def embedded(self) -> bool:
        return self.database_url is None

    def dsn(self, database: str | None = None) -> str:
        """Return the PostgreSQL URL of EasyQuant's database, or of ``database`` on that server."""
        url = self.database_url or (
            f"postgresql://postgres@127.0.0.1:{self.embedded_pg_port}/easyquant"
        )
        if database is None:
            return url
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))

    def shown_dsn(self, database: str | None = None) -> str:
        """``dsn()`` with its password masked: for printing and logging."""
        return redact_url(self.dsn(database))

    @property
    def airflow_base_url(self) -> str:
        return (self.airflow_url or f"http://127.0.0.1:{self.airflow_port}").rstrip("/")


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise ConfigError naming each bad setting."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"EASYQUANT_{field.upper()}" if field else "settings"
            msg = err["msg"].removeprefix("Value error, ")
            problems.append(f"{name}: {msg}" if not msg.startswith("EASYQUANT_") else msg)
        raise ConfigError("invalid settings: " + "; ".join(problems)) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Return the process-wide settings (read once)."""
    return load_settings()
