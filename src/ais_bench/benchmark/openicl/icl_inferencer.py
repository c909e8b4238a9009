"""Inferencer markers: performance runs generate one completion per request item."""


class GenInferencer:
    """Generation inferencer."""


class MultiTurnGenInferencer:
    """Multi-turn generation (``infer_mode``: ``every``, ``every_with_gt``, ``last``); read by the
    ShareGPT loader."""


__all__ = ["GenInferencer", "MultiTurnGenInferencer"]
