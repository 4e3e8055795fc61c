"""Quickstart demo: seed an MLflow Model Registry with a few tiny, deterministic models.

``python -m registry_ops.quickstart`` trains small two-spirals classifiers on CPU
(:mod:`registry_ops.quickstart.spirals`) and registers them as versions of
``spirals-classifier`` and ``spirals-experimental`` in the registry named by
``MLFLOW_TRACKING_URI``, so that the promotion pipeline has real candidates with real
metrics to gate on. The models are deliberately spread across the quality range: some
versions clear typical accuracy gates comfortably and others clearly fail them.
"""
