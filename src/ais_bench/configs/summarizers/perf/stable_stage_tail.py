# An example summarizer of your own: the steady stage (as stable_stage) with the tail percentiles of
# an SLO report. Copy it into configs/summarizers/ and edit stats_list; then, for a finished run,
#   ais_bench --models ... --datasets ... --summarizer stable_stage_tail --mode perf_viz --reuse
from ais_bench.benchmark.calculators import StablePerfMetricCalculator
from ais_bench.benchmark.summarizers import DefaultPerfSummarizer

summarizer = dict(
    attr="performance",
    type=DefaultPerfSummarizer,
    calculator=dict(
        type=StablePerfMetricCalculator,  # metrics over the steady stage only (in-flight == batch_size)
        stats_list=["Average", "Min", "Median", "P90", "P95", "P99", "P99.9", "Max"],  # up to 8; any Pk, 0 < k < 100
    ),
)
