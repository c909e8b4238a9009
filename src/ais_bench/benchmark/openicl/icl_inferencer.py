"""Inferencer marker: performance runs generate one completion per dataset row."""


class GenInferencer:
    """Generation inferencer."""


__all__ = ["GenInferencer"]
