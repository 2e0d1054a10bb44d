-- Live sessions share the status vocabulary of components (easyquant.status.STATES): a session
-- whose feed ended is 'success' (it was 'finished'); 'queued' is allowed for a session stored
-- before it runs. A halt is the session's `halted` flag, not a state.
ALTER TABLE live_session DROP CONSTRAINT live_session_state_check;
UPDATE live_session SET state = 'success' WHERE state = 'finished';
ALTER TABLE live_session ADD CONSTRAINT live_session_state_check
    CHECK (state IN ('queued', 'running', 'success', 'failed', 'stopped'));
