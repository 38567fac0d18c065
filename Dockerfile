# syntax=docker/dockerfile:1
# partner-publisher container image. Build: docker build -t partner-publisher:0.1.0 .
# Run (read-only root, data on a volume):
#   docker run --read-only --tmpfs /tmp -v pp-data:/var/lib/partner-publisher \
#     -e PUBLISHER__INGEST__TOKEN=... -v ./config.yaml:/etc/partner-publisher/config.yaml:ro \
#     -p 8088:8088 -p 9464:9464 partner-publisher:0.1.0
#
# The build stage's RUN lines use only relative paths and the variables set by ENV, so the
# test suite can replay them in a scratch directory (tests/integration/test_deploy_dockerfile.py).

ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV VIRTUAL_ENV=/opt/partner-publisher \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_INPUT=1
WORKDIR /src
# The virtualenv gets no pip of its own (smaller, nothing to install packages with at run
# time); the base image's pip installs into it through --python.
RUN python -m venv --without-pip "$VIRTUAL_ENV"
# Dependencies first, from the pinned lock, so code changes reuse this layer.
COPY requirements.lock ./
RUN python -m pip --python "$VIRTUAL_ENV/bin/python" install --no-cache-dir -r requirements.lock
COPY pyproject.toml README.md ./
COPY publisher ./publisher
# --no-deps: everything the project needs came from the lock above; pip check proves it.
RUN python -m pip --python "$VIRTUAL_ENV/bin/python" install --no-cache-dir --no-deps . \
    && python -m pip --python "$VIRTUAL_ENV/bin/python" check \
    && "$VIRTUAL_ENV/bin/partner-publisher" --help > /dev/null

FROM ${PYTHON_IMAGE} AS runtime
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="partner-publisher" \
      org.opencontainers.image.description="Publishes SaaS customers' events into Amazon EventBridge partner event sources." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
# A numeric user that owns nothing but the data directory; Kubernetes' runAsNonRoot can verify it.
RUN groupadd --system --gid 10001 publisher \
    && useradd --system --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/partner-publisher --shell /usr/sbin/nologin publisher \
    && install -d -o 10001 -g 10001 -m 0750 /var/lib/partner-publisher
COPY --from=build /opt/partner-publisher /opt/partner-publisher
COPY config/container.yaml /etc/partner-publisher/config.yaml
# No bytecode writes at run time: the root filesystem is read-only and pip compiled at build.
ENV PATH=/opt/partner-publisher/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/var/lib/partner-publisher \
    TMPDIR=/tmp \
    PUBLISHER_CONFIG=/etc/partner-publisher/config.yaml
USER 10001:10001
WORKDIR /var/lib/partner-publisher
VOLUME ["/var/lib/partner-publisher"]
EXPOSE 8088 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PUBLISHER__ADMIN__PORT', '9464'), timeout=2)"]
# Exec form: the daemon itself is PID 1 and receives SIGTERM; it drains for
# publish.shutdown_grace_s and exits. It starts no child processes, so nothing needs reaping.
STOPSIGNAL SIGTERM
ENTRYPOINT ["partner-publisher"]
CMD ["run", "--config", "/etc/partner-publisher/config.yaml"]
