"""ASGI entry for uvicorn and gunicorn.

gunicorn -k uvicorn.workers.UvicornWorker streamapp.asgi:app
"""

from streamapp.app import create_app

app = create_app()
