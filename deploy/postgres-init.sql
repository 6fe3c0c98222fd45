-- The gateway's own databases beside the audit chain's (civic_audit, made by the image from POSTGRES_DB).
CREATE DATABASE civic_alerts;
