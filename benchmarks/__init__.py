"""Speed benchmarks (scripts run as `python -m benchmarks.NAME`) and the README table report."""
