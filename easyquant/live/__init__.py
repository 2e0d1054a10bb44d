"""Live trading: a long-running service that runs a backtested strategy unchanged on live bars.

- :mod:`easyquant.live.feeds`: the Feed protocol; replay of the lake, synthetic live random walk.
- :mod:`easyquant.live.bars`: bars, the guard refusing bad ones, the strategy's history.
- :mod:`easyquant.live.broker`: the Broker protocol and the paper venue (its own ledger, the
  backtest's fill and cost model).
- :mod:`easyquant.live.orders`: targets -> orders with deterministic client order ids, exactly as
  the backtest engine executes them.
- :mod:`easyquant.live.ledger`: the service's ledger in PostgreSQL (orders written ahead).
- :mod:`easyquant.live.risk`: position, gross exposure, order notional and daily loss limits.
- :mod:`easyquant.live.service`: the loop, start-up reconciliation, outages, SIGTERM, status.
- :mod:`easyquant.live.parity`: a session against the backtester on the same bars.
"""
