from av_shared.runtime import serve

from .main import create_app
from .settings import AnalysisServiceSettings

settings = AnalysisServiceSettings()
serve(
    create_app(settings),
    host=settings.analysis_service_host,
    port=settings.analysis_service_port,
    settings=settings,
)
