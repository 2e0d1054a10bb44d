"""Live trading: a long-running service that runs a backtested strategy unchanged on live bars.

- :mod:`easyquant.live.feeds`: the Feed protocol; replay of the lake, synthetic live random walk.
- :mod:`easyquant.live.bars`: bars, the guard refusing bad ones, the strategy's history.
- :mod:`easyquant.live.broker`: the Broker protocol and the paper venue (its own ledger, the
  backtest's fill and cost model).
- :mod:`easyquant.live.orders`: targets -> orders with deterministic client order ids, exactly as
  the backtest engine executes them.
- :mod:`easyquant.live.records`: the ledger's rows (orders, positions, sessions) and conversions.
- :mod:`easyquant.live.sessions`: a session's store in PostgreSQL: its row, halt flags, bars.
- :mod:`easyquant.live.journal`: the order and fill journal (orders written ahead).
- :mod:`easyquant.live.queries`: read-side queries for the CLI and the monitor API.
- :mod:`easyquant.live.risk`: position, gross exposure, order notional and daily loss limits.
- :mod:`easyquant.live.config`: a session's configuration, checked field by field.
- :mod:`easyquant.live.reconcile`: the ledger against the venue at start-up and after outages.
- :mod:`easyquant.live.crash`: crash points for fault-injection tests.
- :mod:`easyquant.live.service`: the loop, outages, SIGTERM, status.
- :mod:`easyquant.live.parity`: a session against the backtester on the same bars.
"""
