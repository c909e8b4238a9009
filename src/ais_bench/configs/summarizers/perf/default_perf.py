from ais_bench.benchmark.calculators import DefaultPerfMetricCalculator
from ais_bench.benchmark.summarizers import DefaultPerfSummarizer

summarizer = dict(
    attr="performance",
    type=DefaultPerfSummarizer,
    calculator=dict(
        type=DefaultPerfMetricCalculator,  # metrics over every request of the run (stage "total")
        stats_list=["Average", "Min", "Max", "Median", "P75", "P90", "P99"],  # up to 8; any Pk with 0 < k < 100 (P99.9)
    ),
)
