from ais_bench.benchmark.calculators import StablePerfMetricCalculator
from ais_bench.benchmark.summarizers import DefaultPerfSummarizer

summarizer = dict(
    attr="performance",
    type=DefaultPerfSummarizer,
    calculator=dict(
        type=StablePerfMetricCalculator,  # metrics over the steady stage only (in-flight == batch_size)
        stats_list=["Average", "Min", "Max", "Median", "P75", "P90", "P99"],  # up to 8; any Pk with 0 < k < 100 (P99.9)
    ),
)
