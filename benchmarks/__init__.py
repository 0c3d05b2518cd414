"""Speed benchmarks (scripts run as `python benchmarks/NAME.py`) and the README table report."""
