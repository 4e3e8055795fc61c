"""registry-ops: a declarative GitOps promotion pipeline for the MLflow Model Registry."""

__version__ = "0.1.0"
