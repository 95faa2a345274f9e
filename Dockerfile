# One image for the web and worker services of compose.yaml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liveness_project ./liveness_project
COPY apps ./apps
COPY manage.py ./
COPY docs ./docs
RUN pip install --no-cache-dir . && python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "liveness_project.wsgi:application", "-c", "liveness_project/gunicorn_conf.py"]
