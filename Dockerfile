FROM python:3.11-slim
WORKDIR /app
RUN pip install --no-cache-dir uv==0.13.9
COPY pyproject.toml uv.lock README.md ./
COPY orchestrator orchestrator
COPY integrations integrations
COPY bank_portal bank_portal
COPY templates templates
COPY scenarios scenarios
RUN uv sync --frozen --no-dev && ln -s /app/.venv/bin/onestop /usr/local/bin/onestop
ENV PATH="/app/.venv/bin:$PATH"
