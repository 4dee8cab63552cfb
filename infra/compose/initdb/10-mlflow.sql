-- The MLflow tracking/registry database, next to Dagster's (created by POSTGRES_DB).
CREATE DATABASE mlflow;
