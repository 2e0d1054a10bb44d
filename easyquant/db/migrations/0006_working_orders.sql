-- Limit and stop orders that rest across bars: their time in force, the cancels sent for them,
-- and the paper venue's record of when it last tried each working order.

ALTER TABLE live_order
    ADD COLUMN tif text NOT NULL DEFAULT 'gtc' CHECK (tif IN ('gtc', 'day')),
    -- written (durably) before a cancel is sent: a restart asks the venue instead of resending
    ADD COLUMN cancel_requested_at timestamptz;

-- the equity a phase with working orders sizes with, noted before any of them is asked about
ALTER TABLE live_session ADD COLUMN phase_note jsonb;

-- every cancel message the venue received, repeats included (proves none was sent twice)
CREATE TABLE paper_cancel (
    id               bigserial PRIMARY KEY,
    account          text NOT NULL REFERENCES paper_account (account) ON DELETE CASCADE,
    client_order_id  text NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX paper_cancel_idx ON paper_cancel (account, client_order_id);

ALTER TABLE paper_order
    ADD COLUMN tif text NOT NULL DEFAULT 'gtc',
    -- the trading day the order was placed on (a day order ends with it)
    ADD COLUMN placed_day bigint,
    -- the last moment (bar, phase) the venue tried the order: tried once per moment
    ADD COLUMN tried_ts timestamptz,
    ADD COLUMN tried_phase text,
    ADD COLUMN last_reason text NOT NULL DEFAULT '';
CREATE INDEX paper_order_open_idx ON paper_order (account) WHERE status = 'open';
