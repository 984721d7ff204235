# One image for every process of the fleet: `tradefleet worker`, `tradefleet operator` and
# `tradefleet exchange` (the simulator). Build: docker build -t tradefleet:0.1.0 .
#
# Both stages use the same exact base tag, so the virtualenv built in the first one runs
# unchanged in the second (same interpreter at the same path). Every dependency ships
# binary wheels for CPython 3.11 on linux amd64/arm64, so neither stage has a compiler;
# --only-binary turns a dependency without a wheel into a build error, not a source build.
# pgserver (the embedded PostgreSQL of `tradefleet demo`, the `embedded` extra) is left out:
# a pod always gets a DSN, and one without must stop, not trade on a private database.

FROM python:3.11.13-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip wheel --only-binary=:all: --wheel-dir /wheels . \
 && python -m venv /opt/tradefleet \
 && /opt/tradefleet/bin/pip install --no-index --find-links /wheels /wheels/tradefleet-*.whl \
 && /opt/tradefleet/bin/pip uninstall --yes pip setuptools wheel \
 && /opt/tradefleet/bin/tradefleet --help >/dev/null

FROM python:3.11.13-slim-bookworm
LABEL org.opencontainers.image.title="tradefleet" \
      org.opencontainers.image.description="Fleet of intraday KRX auto-trading workers: worker, operator, exchange simulator"
# TRADEFLEET_STATE_DIR (the calendar cache) and HOME go to /tmp, the one writable path of a
# worker pod (read-only root filesystem, /tmp an emptyDir); an unwritable state dir only costs
# speed. The venv's bytecode is compiled at build time, so nothing is written beside it.
ENV PATH=/opt/tradefleet/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    TRADEFLEET_STATE_DIR=/tmp/tradefleet
# numeric UID/GID 10001: the operator's worker pods run as runAsUser/runAsGroup 10001 with
# runAsNonRoot, which the kubelet can only check against a numeric USER
RUN groupadd --system --gid 10001 tradefleet \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin tradefleet
COPY --from=builder /opt/tradefleet /opt/tradefleet
USER 10001:10001
WORKDIR /tmp
# worker health + /metrics, operator liveness, operator /metrics, exchange simulator
EXPOSE 8080 8081 9100 8900
ENTRYPOINT ["tradefleet"]
CMD ["--help"]
