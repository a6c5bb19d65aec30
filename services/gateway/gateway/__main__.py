import uvicorn

from .main import create_app
from .settings import GatewaySettings

settings = GatewaySettings()
uvicorn.run(create_app(settings), host=settings.gateway_host, port=settings.gateway_port,
            log_config=None, timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))
