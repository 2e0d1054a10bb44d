-- Market data: what the lake holds (catalog), how each ingest went (quality reports),
-- and corporate actions for price adjustment.
CREATE TABLE bar_catalog (
    symbol      text NOT NULL,
    freq        text NOT NULL,
    calendar    text,
    first_ts    timestamptz NOT NULL,
    last_ts     timestamptz NOT NULL,
    rows        bigint NOT NULL CHECK (rows >= 0),
    checksum    text NOT NULL,
    path        text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (symbol, freq)
);

CREATE TABLE quality_report (
    id              bigserial PRIMARY KEY,
    ingest_id       text NOT NULL,
    source          text NOT NULL,
    origin          text NOT NULL DEFAULT '',
    symbol          text NOT NULL,
    freq            text NOT NULL,
    status          text NOT NULL CHECK (status IN ('stored', 'unchanged', 'rejected')),
    rows_read       bigint NOT NULL DEFAULT 0,
    rows_skipped    bigint NOT NULL DEFAULT 0,
    rows_rejected   bigint NOT NULL DEFAULT 0,
    rows_stored     bigint NOT NULL DEFAULT 0,
    rejects         jsonb NOT NULL DEFAULT '{}'::jsonb,
    samples         jsonb NOT NULL DEFAULT '[]'::jsonb,
    gaps            jsonb NOT NULL DEFAULT '{}'::jsonb,
    warnings        jsonb NOT NULL DEFAULT '{}'::jsonb,
    quarantine_path text,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX quality_report_ingest_idx ON quality_report (ingest_id);
CREATE INDEX quality_report_symbol_idx ON quality_report (symbol, freq, created_at);

CREATE TABLE corporate_action (
    symbol      text NOT NULL,
    ex_date     date NOT NULL,
    split_ratio double precision NOT NULL DEFAULT 1 CHECK (split_ratio > 0),
    dividend    double precision NOT NULL DEFAULT 0 CHECK (dividend >= 0),
    PRIMARY KEY (symbol, ex_date)
);
