from av_shared.runtime import serve

from .main import create_app
from .settings import BatchServiceSettings

settings = BatchServiceSettings()
serve(
    create_app(settings),
    host=settings.batch_service_host,
    port=settings.batch_service_port,
    settings=settings,
)
