-- Backtest results: runs (single runs, sweeps, walk-forwards and their points), their
-- parameters and metrics, trades and equity curves. A run is written in one transaction when it
-- finishes; a failed run keeps its row with state 'failed' and the error, and nothing else.
CREATE TABLE backtest_run (
    id            text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 200),
    kind          text NOT NULL CHECK (kind IN ('backtest', 'sweep', 'walkforward', 'point')),
    parent_id     text REFERENCES backtest_run (id) ON DELETE CASCADE,
    strategy      text NOT NULL,
    symbols       text[] NOT NULL,
    market        text NOT NULL,
    freq          text NOT NULL DEFAULT '1d',
    period_start  timestamptz,
    period_end    timestamptz,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    state         text NOT NULL CHECK (state IN ('running', 'success', 'failed')),
    error         text,
    final_equity  double precision,
    rank          integer,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at   timestamptz
);
CREATE INDEX backtest_run_parent_idx ON backtest_run (parent_id);
CREATE INDEX backtest_run_created_idx ON backtest_run (created_at DESC);

CREATE TABLE backtest_param (
    run_id  text NOT NULL REFERENCES backtest_run (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   jsonb NOT NULL,
    PRIMARY KEY (run_id, name)
);

CREATE TABLE backtest_metric (
    run_id  text NOT NULL REFERENCES backtest_run (id) ON DELETE CASCADE,
    name    text NOT NULL,
    value   double precision,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX backtest_metric_name_idx ON backtest_metric (name, value);

CREATE TABLE backtest_trade (
    run_id       text NOT NULL REFERENCES backtest_run (id) ON DELETE CASCADE,
    seq          integer NOT NULL,
    symbol       text NOT NULL,
    entry_time   timestamptz NOT NULL,
    entry_price  double precision NOT NULL,
    exit_time    timestamptz,
    exit_price   double precision,
    quantity     double precision NOT NULL,
    pnl          double precision NOT NULL,
    fees         double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, seq)
);

-- Equity curves longer than the stored limit are thinned to evenly spaced bars plus the last.
CREATE TABLE backtest_equity (
    run_id  text NOT NULL REFERENCES backtest_run (id) ON DELETE CASCADE,
    ts      timestamptz NOT NULL,
    equity  double precision NOT NULL,
    PRIMARY KEY (run_id, ts)
);
