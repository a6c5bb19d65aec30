from av_shared.runtime import serve

from .main import create_app
from .settings import GatewaySettings

settings = GatewaySettings()
serve(
    create_app(settings), host=settings.gateway_host, port=settings.gateway_port, settings=settings
)
