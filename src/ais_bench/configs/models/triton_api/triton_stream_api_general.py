from ais_bench.benchmark.models import TritonCustomAPI

models = [
    dict(
        attr="service",
        type=TritonCustomAPI,  # POST v2/models/{model_name}/generate_stream (SSE)
        abbr="triton-stream-api-general",
        path="",  # tokenizer folder: counts tokens when the server sends no num_output_tokens
        model_name="",  # Triton model in the URL; "" = the one ready model of POST /v2/repository/index
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
        generation_kwargs=dict(  # sent in "parameters" (vLLM SamplingParams fields); max_tokens is top-level
            temperature=0.01,
            ignore_eos=False,
        ),
    )
]
