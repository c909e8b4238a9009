"""Compatibility surface for AISBench config files.

Only names that AISBench config files import live here (``ais_bench.benchmark.models``,
``.datasets``, ``.summarizers``, ``.calculators``, ``.openicl``, ``.utils.postprocess``), so existing
config files load unchanged, and the tables that translate AISBench's names into the tool's own:
``models.AISBENCH_BACKENDS`` (a model class to a backend name and default streaming mode),
``datasets.AISBENCH_DATASETS`` (a dataset class to a dataset kind) and
``openicl.icl_prompt_template.AISBENCH_ROLES`` (template roles to OpenAI roles). The config loader
applies them when a config is loaded; nothing else in the tool knows these names.
"""
