# AISBench's default --summarizer name. It is an accuracy summarizer; in the perf modes it is
# replaced by default_perf (see configs/summarizers/perf/).
summarizer = dict(
    attr="accuracy",
    summary_groups=[],
)
