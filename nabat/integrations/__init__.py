"""Receivers' converters for other tools' payloads (Alertmanager, Grafana) and Grafana's
request signature: pure functions, no database, no FastAPI."""
