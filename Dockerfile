# ais_bench in a container: `docker build -t ais_bench .`, then `docker run --rm ais_bench --help`
# (README.md, "Docker"). Stage 1 builds the wheel; stage 2 installs only the wheel and its dependencies.
FROM python:3.11-slim AS wheel
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
COPY --from=wheel /dist/ /tmp/dist/
RUN pip install --no-cache-dir /tmp/dist/*.whl && rm -rf /tmp/dist \
    && useradd --create-home --uid 1000 bench \
    && mkdir /work && chown bench:bench /work
USER bench
# Progress lines reach `docker logs` as they are printed (stdout is a pipe, not a terminal).
ENV PYTHONUNBUFFERED=1
# The run folder (outputs/) and your own configs (configs/models/...) are read and written here: mount a folder.
WORKDIR /work
ENTRYPOINT ["ais_bench"]
CMD ["--help"]
