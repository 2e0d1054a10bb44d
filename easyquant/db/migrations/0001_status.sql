-- Status store: one row per component, an append-only event history, NOTIFY on every change.
CREATE SEQUENCE IF NOT EXISTS component_seq;

CREATE TABLE component (
    id                 text PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 1000),
    kind               text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 500),
    state              text NOT NULL
                       CHECK (state IN ('queued', 'running', 'success', 'failed', 'stopped')),
    progress           double precision CHECK (progress >= 0 AND progress <= 1),
    message            text NOT NULL DEFAULT '',
    metrics            jsonb NOT NULL DEFAULT '{}'::jsonb,
    attrs              jsonb NOT NULL DEFAULT '{}'::jsonb,
    url                text,
    parent_id          text,
    heartbeat_interval double precision NOT NULL DEFAULT 60 CHECK (heartbeat_interval > 0),
    started_at         timestamptz,
    heartbeat_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at        timestamptz,
    seq                bigint NOT NULL DEFAULT nextval('component_seq')
);
CREATE INDEX component_seq_idx ON component (seq);
CREATE INDEX component_kind_state_idx ON component (kind, state);
CREATE INDEX component_parent_idx ON component (parent_id);

CREATE TABLE component_event (
    id           bigserial PRIMARY KEY,
    component_id text NOT NULL REFERENCES component (id) ON DELETE CASCADE,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    state        text NOT NULL,
    progress     double precision,
    message      text NOT NULL DEFAULT '',
    metrics      jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX component_event_component_idx ON component_event (component_id, id);
