"""What a running server tells its operator: Prometheus metrics, OpenTelemetry traces, logs."""
