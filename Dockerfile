# The OneStop image: every process of compose.yaml runs `onestop <command>` from it.
FROM python:3.11-slim
# The seal simulator draws specimen impressions (印模) with this CJK font.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fonts-wqy-zenhei \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /app
# The locked dependencies first, in a layer that changes only with them. Bytecode is compiled
# at install: a process would otherwise compile its imports anew at every start.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project --compile-bytecode
COPY . .
RUN uv sync --frozen --no-dev --compile-bytecode \
 && ln -s /app/.venv/bin/onestop /usr/local/bin/onestop \
 && useradd --system --no-create-home onestop \
 && mkdir -p var && chown onestop var
ENV PATH="/app/.venv/bin:$PATH"
# var/ (beat's heartbeat file) is the only place the processes write to.
USER onestop
