"""Benchmarks of registry-ops against a real local ``mlflow server`` (run each as a script)."""
