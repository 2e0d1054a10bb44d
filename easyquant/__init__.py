"""EasyQuant: market-data ETL, backtests, live trading and monitoring in one system."""

__version__ = "0.1.0"
