"""Compatibility surface for AISBench config files.

Only names that AISBench config files import live here (``ais_bench.benchmark.models``,
``.datasets``, ``.summarizers``, ``.calculators``, ``.openicl``, ``.utils.postprocess``), so existing
config files load unchanged. Nothing in this package has behaviour; the tool keys its own tables by
these objects.
"""
