import uvicorn

from .main import create_app
from .settings import AnalysisServiceSettings

settings = AnalysisServiceSettings()
uvicorn.run(create_app(settings), host=settings.analysis_service_host,
            port=settings.analysis_service_port, log_config=None,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds))
