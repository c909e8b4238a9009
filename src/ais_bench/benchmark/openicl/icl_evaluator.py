"""Evaluator marker (accuracy only; not used in performance mode)."""


class AccEvaluator:
    """Accuracy evaluator placeholder."""


__all__ = ["AccEvaluator"]
