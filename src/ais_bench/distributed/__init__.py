"""Load from many machines: the parts of a Ray run that need no Ray (``clock``: node clock offsets)."""
