"""The FastAPI application: ``create_app(settings)``; its lifespan owns the status bridge."""

from __future__ import annotations

import argparse
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from easyquant import redact
from easyquant.config import Settings, get_settings
from easyquant.errors import ConfigError
from monitor_api.bridge import StatusBridge
from monitor_api.deps import require_token
from monitor_api.routes import backtests, data, live, pipelines, status
from monitor_api.security import (
    Guard,
    check_exposure,
    document_responses,
    install_log_redaction,
    server_options,
)

STATIC = Path(__file__).parent / "static"


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for ``settings`` (default: from the environment)."""
    settings = settings or get_settings()
    check_exposure(settings)
    install_log_redaction()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        bridge = StatusBridge(settings)
        app.state.bridge = bridge
        await bridge.start()
        try:
            yield
        finally:
            await bridge.stop()

    app = FastAPI(
        title="EasyQuant monitor API",
        version="0.1.0",
        description="Status of pipelines, backtests and live trading; /ws/status pushes changes.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.add_middleware(Guard, settings=settings)
    guarded = [Depends(require_token)]
    app.include_router(status.router, dependencies=guarded)
    app.include_router(status.ws_router)
    app.include_router(backtests.router, dependencies=guarded)
    app.include_router(pipelines.router, dependencies=guarded)
    app.include_router(live.router, dependencies=guarded)
    app.include_router(data.router, dependencies=guarded)

    if (STATIC / "index.html").exists():
        app.mount("/", StaticFiles(directory=STATIC, html=True), name="dashboard")
    else:

        @app.get("/", response_class=HTMLResponse, include_in_schema=False)
        def no_dashboard() -> str:
            return (
                "<h1>EasyQuant</h1><p>The dashboard is not built: run <code>make up</code>."
                " The API is at <a href='/docs'>/docs</a>.</p>"
            )

    document_responses(app)
    return app


def main(argv: Sequence[str] | None = None) -> None:
    """Run the API with uvicorn on the configured host and port."""
    import uvicorn

    from easyquant.config import load_settings

    argparse.ArgumentParser(
        prog="python -m monitor_api.app",
        description="Serve EasyQuant's monitor API, its websocket and the dashboard.",
        epilog="Settings come from the environment: EASYQUANT_DATABASE_URL, EASYQUANT_API_HOST, "
        "EASYQUANT_API_PORT, EASYQUANT_API_TOKEN, EASYQUANT_ALLOWED_HOSTS (see README).",
    ).parse_args(argv)
    try:
        settings = load_settings()
        app = create_app(settings)
    except ConfigError as exc:
        raise SystemExit(f"monitor_api: {exc}") from None
    logging.basicConfig(level=settings.log_level)
    redact.install()
    uvicorn.run(
        app,
        host=settings.api_host,
        port=settings.api_port,
        log_level=settings.log_level.lower(),
        ws_ping_interval=20,
        **server_options(settings),
    )


if __name__ == "__main__":
    main()
