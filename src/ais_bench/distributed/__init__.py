"""Load from many machines (``--ray``): the workers as actors of a Ray cluster. Only ``driver.py``
(``run_on_ray``) and ``target.import_ray`` import Ray, and only for ``--ray``; ``clock`` (node clock
offsets), ``share``, ``record_tail``, ``gather`` and ``node`` need no Ray."""
