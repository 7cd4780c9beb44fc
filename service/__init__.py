"""An HTTP service that summarizes documents with the TGI endpoint on SageMaker.

Start it with ``python -m service --host 127.0.0.1 --port 8080``. Settings come from
``LLM_SERVICE_`` variables (:mod:`service.settings`) and the client's ``LLM_CLIENT_``
variables; routes and error bodies are described in :mod:`service.app`,
:mod:`service.streaming` and :mod:`service.errors`.
"""

from service.app import create_app
from service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]
