-- The host a component ran on: for an Airflow task try, the hostname Airflow records for its
-- task instance (a Celery worker's name under the CeleryExecutor). NULL when not reported.
ALTER TABLE component ADD COLUMN host text CHECK (host IS NULL OR length(host) BETWEEN 1 AND 255);
