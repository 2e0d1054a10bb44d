-- The instrument master: one row per instrument, with the dated periods (ST, suspension) that
-- the market rules read. Symbols are stored in their canonical spelling (600519.SH, BTC/USDT).
CREATE TABLE instrument (
    symbol      text PRIMARY KEY,
    name        text NOT NULL DEFAULT '',
    exchange    text NOT NULL,
    board       text NOT NULL CHECK (board IN ('main', 'chinext', 'star', 'bse', 'etf', 'crypto')),
    currency    text NOT NULL,
    lot         double precision NOT NULL CHECK (lot > 0),
    min_order   double precision NOT NULL CHECK (min_order > 0),
    tick        double precision NOT NULL CHECK (tick > 0),
    listed      date,
    delisted    date,
    source      text NOT NULL DEFAULT 'csv',
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    CHECK (delisted IS NULL OR listed IS NULL OR delisted >= listed)
);
CREATE INDEX instrument_exchange_idx ON instrument (exchange, board);

-- kind 'st': under special treatment; 'suspended': not trading. end_date inclusive, NULL: open.
CREATE TABLE instrument_period (
    symbol      text NOT NULL REFERENCES instrument (symbol) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('st', 'suspended')),
    start_date  date NOT NULL,
    end_date    date,
    PRIMARY KEY (symbol, kind, start_date),
    CHECK (end_date IS NULL OR end_date >= start_date)
);
