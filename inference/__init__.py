"""Calling side of the endpoint: a TGI client for SageMaker, prompt templates and tasks."""

from inference.base import (
    Generation,
    GenerationParameters,
    InferenceClient,
    StreamEnd,
    StreamEvent,
    TextDelta,
)
from inference.errors import (
    EndpointNotFoundError,
    EndpointUnavailableError,
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
    MissingRegionError,
    ModelError,
    StreamError,
    ThrottledError,
)
from inference.prompts import (
    Llama2ChatTemplate,
    Message,
    MistralInstructTemplate,
    PromptError,
    PromptTemplate,
    template_for_model,
)
from inference.sagemaker_tgi import SageMakerTgiClient, resolve_region
from inference.settings import ClientSettings
from inference.tasks import DocumentTooLongError, SummarizeShortDocument, Summary, Task

__all__ = [
    "ClientSettings",
    "DocumentTooLongError",
    "EndpointNotFoundError",
    "EndpointUnavailableError",
    "Generation",
    "GenerationParameters",
    "InferenceClient",
    "InferenceError",
    "InferenceTimeoutError",
    "InvalidRequestError",
    "Llama2ChatTemplate",
    "Message",
    "MissingRegionError",
    "MistralInstructTemplate",
    "ModelError",
    "PromptError",
    "PromptTemplate",
    "SageMakerTgiClient",
    "StreamEnd",
    "StreamError",
    "StreamEvent",
    "SummarizeShortDocument",
    "Summary",
    "Task",
    "TextDelta",
    "ThrottledError",
    "resolve_region",
    "template_for_model",
]
