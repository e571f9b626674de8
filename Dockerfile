FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
# The locked, hash-checked requirements first (a layer that survives code changes), then the
# project itself with nothing more resolved (--no-deps).
COPY requirements.txt /app/requirements.txt
RUN pip install --no-cache-dir --require-hashes -r requirements.txt
COPY . /app
RUN pip install --no-cache-dir --no-deps . \
 && DJANGO_SETTINGS_MODULE=settings.production DJANGO_SECRET_KEY=build-only \
    DATABASE_URL=sqlite:////tmp/build.sqlite3 OCPI_BASE_URL=https://build.invalid \
    python manage.py collectstatic --noinput
RUN useradd --create-home hub && mkdir -p /app/.run && chown -R hub /app/.run
USER hub
EXPOSE 8000
# Plain HTTP on 8000, for a TLS-terminating proxy in front (docker-compose.yml, `proxy`).
# gunicorn reads settings/gunicorn.py, as `make run` does: WEB_CONCURRENCY, WEB_THREADS,
# WEB_TIMEOUT tune it (docs/operations.md).
ENV WEB_BIND=0.0.0.0:8000
CMD ["gunicorn", "--config", "python:settings.gunicorn", "hub.wsgi"]
