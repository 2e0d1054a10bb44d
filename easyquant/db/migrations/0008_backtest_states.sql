-- Backtest runs share the status vocabulary of components (easyquant.status.STATES): a point
-- the DAG has planned but not started is 'queued'; a run interrupted (Ctrl-C, SIGTERM) is
-- 'stopped'. Existing rows keep their states, which are all in the wider set.
ALTER TABLE backtest_run DROP CONSTRAINT backtest_run_state_check;
ALTER TABLE backtest_run ADD CONSTRAINT backtest_run_state_check
    CHECK (state IN ('queued', 'running', 'success', 'failed', 'stopped'));
