"""REST routes for live (filled in by the live work)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
