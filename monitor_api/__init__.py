"""monitor_api: the FastAPI bridge from the status store to the dashboard."""
