"""The server's own metrics (``--server-metrics``): scraped during the run, derived per stage and
cross-checked against what the client measured.

- :mod:`.exposition`: Prometheus text to samples (``prometheus-client``'s parser);
- :mod:`.names`: the names of the common servers (vLLM, SGLang, TGI, Triton, llama.cpp server);
- :mod:`.derive`: :func:`derive` (series, window) -> :class:`ServerStageSummary`;
- :mod:`.cross_check`: server vs client over the same window;
- :mod:`.scraper`: the scraper of the main process (through ``clients.client.fetch``).
"""

from ais_bench.server_metrics.derive import ServerStageSummary, StageWindow, derive

__all__ = ["ServerStageSummary", "StageWindow", "derive"]
