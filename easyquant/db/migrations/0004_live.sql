-- Live trading. The service's own ledger (live_*) and, separately, the paper venue's ledger
-- (paper_*): the venue is another party, so start-up reconciliation compares two real records.
--
-- Invariants: live_session.cash = initial_cash - sum(fill value + fees) and each
-- live_position.quantity = sum of its fills, because a fill, its position and the cash change
-- are written in one transaction. An order row is written before the order is sent.

CREATE TABLE live_session (
    id                 text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$'),
    strategy           text NOT NULL,
    params             jsonb NOT NULL DEFAULT '{}'::jsonb,
    symbols            text[] NOT NULL,
    market             text NOT NULL,
    freq               text NOT NULL DEFAULT '1d',
    feed               text NOT NULL,
    broker             text NOT NULL,
    config             jsonb NOT NULL DEFAULT '{}'::jsonb,
    state              text NOT NULL DEFAULT 'running'
                       CHECK (state IN ('running', 'stopped', 'finished', 'failed')),
    message            text NOT NULL DEFAULT '',
    initial_cash       double precision NOT NULL CHECK (initial_cash > 0),
    cash               double precision NOT NULL,
    equity             double precision,
    last_bar_ts        timestamptz,
    bars               bigint NOT NULL DEFAULT 0,
    bad_bars           bigint NOT NULL DEFAULT 0,
    engine_state       jsonb NOT NULL DEFAULT '{}'::jsonb,
    day_key            bigint,
    day_start_equity   double precision,
    halted             boolean NOT NULL DEFAULT false,
    halt_reason        text,
    halted_at          timestamptz,
    flatten_requested  boolean NOT NULL DEFAULT false,
    pid                integer,
    created_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    started_at         timestamptz,
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    stopped_at         timestamptz
);

-- Every bar the session accepted (what parity replays through the backtester).
CREATE TABLE live_bar (
    session  text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    ts       timestamptz NOT NULL,
    symbol   text NOT NULL,
    open     double precision NOT NULL,
    high     double precision NOT NULL,
    low      double precision NOT NULL,
    close    double precision NOT NULL,
    volume   double precision NOT NULL,
    PRIMARY KEY (session, ts, symbol)
);

-- Orders, written ahead of sending. phase: 'o' (at a bar's open), 'c' (at its close),
-- 'x' (flattening). pass: 0 sells, 1 buys. phase_equity: the equity orders were sized from.
CREATE TABLE live_order (
    client_order_id  text PRIMARY KEY,
    session          text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    bar_ts           timestamptz NOT NULL,
    phase            text NOT NULL CHECK (phase IN ('o', 'c', 'x')),
    pass             smallint NOT NULL CHECK (pass IN (0, 1)),
    symbol           text NOT NULL,
    side             text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         double precision NOT NULL CHECK (quantity > 0),
    kind             text NOT NULL CHECK (kind IN ('market', 'limit', 'stop')),
    limit_price      double precision,
    est_price        double precision,
    phase_equity     double precision,
    state            text NOT NULL CHECK (state IN ('new', 'open', 'filled', 'partial',
                                                    'rejected', 'risk_rejected', 'cancelled')),
    filled_qty       double precision NOT NULL DEFAULT 0,
    avg_price        double precision,
    fees             double precision NOT NULL DEFAULT 0,
    reason           text NOT NULL DEFAULT '',
    broker_order_id  text,
    created_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    acked_at         timestamptz
);
CREATE INDEX live_order_session_idx ON live_order (session, bar_ts);
CREATE INDEX live_order_open_idx ON live_order (session) WHERE state IN ('new', 'open');

CREATE TABLE live_fill (
    session          text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    fill_id          text NOT NULL,
    client_order_id  text NOT NULL REFERENCES live_order (client_order_id) ON DELETE CASCADE,
    symbol           text NOT NULL,
    bar_ts           timestamptz NOT NULL,
    quantity         double precision NOT NULL,   -- signed: + bought, - sold
    price            double precision NOT NULL,
    fees             double precision NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (session, fill_id)
);
CREATE INDEX live_fill_bar_idx ON live_fill (session, bar_ts);

CREATE TABLE live_position (
    session       text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    symbol        text NOT NULL,
    quantity      double precision NOT NULL DEFAULT 0,
    avg_price     double precision NOT NULL DEFAULT 0,
    realized_pnl  double precision NOT NULL DEFAULT 0,
    last_price    double precision,
    PRIMARY KEY (session, symbol)
);

CREATE TABLE live_equity (
    session  text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    ts       timestamptz NOT NULL,
    equity   double precision NOT NULL,
    cash     double precision NOT NULL,
    PRIMARY KEY (session, ts)
);

-- Risk breaches, halts, resumes, refused bars and reconciliation findings.
CREATE TABLE live_event (
    id       bigserial PRIMARY KEY,
    session  text NOT NULL REFERENCES live_session (id) ON DELETE CASCADE,
    at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind     text NOT NULL,
    message  text NOT NULL,
    detail   jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX live_event_session_idx ON live_event (session, id DESC);

-- ----- the paper venue's own ledger ----------------------------------------------------------
CREATE TABLE paper_account (
    account       text PRIMARY KEY,
    initial_cash  double precision NOT NULL,
    cash          double precision NOT NULL,
    config        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp()
);

-- Every order message the venue received, duplicates included (proves none was sent twice).
CREATE TABLE paper_submission (
    id               bigserial PRIMARY KEY,
    account          text NOT NULL REFERENCES paper_account (account) ON DELETE CASCADE,
    client_order_id  text NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX paper_submission_idx ON paper_submission (account, client_order_id);

CREATE TABLE paper_order (
    venue_order_id   bigserial PRIMARY KEY,
    account          text NOT NULL REFERENCES paper_account (account) ON DELETE CASCADE,
    client_order_id  text NOT NULL,
    symbol           text NOT NULL,
    side             text NOT NULL,
    quantity         double precision NOT NULL,
    kind             text NOT NULL,
    price            double precision,
    bar_ts           timestamptz,
    status           text NOT NULL,
    filled_qty       double precision NOT NULL DEFAULT 0,
    reason           text NOT NULL DEFAULT '',
    received_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    UNIQUE (account, client_order_id)
);

CREATE TABLE paper_fill (
    seq              bigserial PRIMARY KEY,
    fill_id          text NOT NULL UNIQUE,
    account          text NOT NULL REFERENCES paper_account (account) ON DELETE CASCADE,
    client_order_id  text NOT NULL,
    symbol           text NOT NULL,
    quantity         double precision NOT NULL,   -- signed
    price            double precision NOT NULL,
    fees             double precision NOT NULL,
    bar_ts           timestamptz,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX paper_fill_account_idx ON paper_fill (account, seq);

CREATE TABLE paper_position (
    account     text NOT NULL REFERENCES paper_account (account) ON DELETE CASCADE,
    symbol      text NOT NULL,
    quantity    double precision NOT NULL DEFAULT 0,
    bought_day  bigint,
    bought_qty  double precision NOT NULL DEFAULT 0,
    PRIMARY KEY (account, symbol)
);
