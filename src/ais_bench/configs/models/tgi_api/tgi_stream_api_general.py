from ais_bench.benchmark.models import TGICustomAPI

models = [
    dict(
        attr="service",
        type=TGICustomAPI,  # POST generate_stream (SSE)
        abbr="tgi-stream-api-general",
        path="",  # tokenizer folder: counts prompts (and outputs when details are missing)
        stream=True,
        request_rate=0,  # requests/s across all workers; 0 = as fast as batch_size allows
        use_timestamp=False,
        retry=2,  # extra attempts after the first, on connection errors and timeouts only
        host_ip="localhost",
        host_port=8080,
        url="",  # e.g. "https://my-host:8443/"; replaces http://host_ip:host_port/ when set
        max_out_len=512,
        batch_size=1,  # maximum concurrency
        trust_remote_code=False,
        generation_kwargs=dict(  # sent in the body's "parameters" (max_new_tokens is added)
            temperature=0.01,
            ignore_eos=False,
            details=True,  # the server's finish_reason and generated_tokens in the last event / body
        ),
    )
]
