"""REST routes for backtests (filled in by the backtests work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
