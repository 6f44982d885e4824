FROM python:3.13-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
RUN useradd --create-home console
WORKDIR /app
COPY pyproject.toml ./
COPY config ./config
COPY accounts ./accounts
COPY audit ./audit
COPY bedrock ./bedrock
COPY gateway ./gateway
COPY integrations ./integrations
COPY prompts_library ./prompts_library
COPY sandbox ./sandbox
COPY usage ./usage
RUN pip install --no-cache-dir .
COPY . .
RUN mkdir -p /app/var && chown console /app/var
USER console
EXPOSE 8000
CMD ["gunicorn", "config.asgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "uvicorn_worker.UvicornWorker"]
