"""Monitoring: anomaly detectors, alert rules and notifiers."""
