"""ANTI-PATTERN, kept only as a throughput baseline: boto3 called synchronously in an
``async def`` route.

Do not deploy or copy this app. Its ``POST /summarize`` runs the summarization task's
synchronous ``execute``, so boto3's ``invoke_endpoint`` blocks the event loop for the whole
generation. While one request waits for the model, the server accepts no connection and
serves no other request, so throughput stays at one request at a time however many
arrive. The service in ``service/`` calls the same task through ``aexecute``, which runs
boto3 in a worker thread.

Everything else matches the service: the same settings, prompt, client and response
fields, so that a benchmark of the two measures only the blocking call. There is no input
validation, no error mapping and no streaming; an endpoint error becomes Starlette's plain
500 response.

Run it like the service: ``.venv/bin/python -m benchmarks.sync_baseline_app --port 8081``.
"""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from inference.base import InferenceClient
from inference.prompts import template_for_model
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.settings import ClientSettings
from inference.tasks import SummarizeShortDocument
from service.app import SummarizeResponse
from service.settings import ServiceSettings

logger = logging.getLogger(__name__)


class BaselineRequest(BaseModel):
    """The service's request body, without its strict types and limits."""

    document: str
    max_new_tokens: int | None = None


def create_baseline_app(
    settings: ServiceSettings, client: InferenceClient | None = None
) -> FastAPI:
    """Build the blocking app; the client is created here, outside any event loop."""
    active_client = client if client is not None else SageMakerTgiClient(settings.client)
    template = template_for_model(settings.model_id)
    app = FastAPI(title="Blocking baseline (anti-pattern, benchmarks only)")

    @app.post("/summarize")
    async def summarize(body: BaselineRequest) -> SummarizeResponse:
        max_new_tokens = body.max_new_tokens or settings.default_max_new_tokens
        task = SummarizeShortDocument(
            active_client,
            template,
            max_input_tokens=settings.input_token_budget(max_new_tokens),
            max_new_tokens=max_new_tokens,
            truncate=settings.truncate,
        )
        # The anti-pattern itself: a blocking network call inside a coroutine.
        summary = task.execute(body.document)
        return SummarizeResponse(
            summary=summary.text,
            finish_reason=summary.finish_reason,
            generated_tokens=summary.generated_tokens,
            truncated=summary.truncated,
            endpoint=active_client.endpoint_name,
        )

    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.sync_baseline_app",
        description="Serve the blocking baseline app (benchmarks only). Reads the same "
        "LLM_SERVICE_ and LLM_CLIENT_ variables as the service.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="Set the listen address.")
    parser.add_argument("--port", type=int, default=8081, help="Set the TCP port.")
    arguments = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO)
    settings = ServiceSettings(client=ClientSettings())
    logger.warning("serving the blocking baseline app, which is for benchmarks only")
    uvicorn.run(create_baseline_app(settings), host=arguments.host, port=arguments.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
