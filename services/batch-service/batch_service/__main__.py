import uvicorn

from .main import create_app
from .settings import BatchServiceSettings

settings = BatchServiceSettings()
uvicorn.run(create_app(settings), host=settings.batch_service_host, port=settings.batch_service_port,
            log_config=None, timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))
