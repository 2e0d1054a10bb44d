"""REST routes for pipelines (filled in by the pipelines work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
