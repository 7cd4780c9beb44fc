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
    InferenceError,
    InferenceTimeoutError,
    InvalidRequestError,
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
from inference.sagemaker_tgi import SageMakerTgiClient
from inference.settings import ClientSettings
from inference.tasks import DocumentTooLongError, SummarizeShortDocument, Summary, Task

__all__ = [
    "ClientSettings",
    "DocumentTooLongError",
    "EndpointNotFoundError",
    "Generation",
    "GenerationParameters",
    "InferenceClient",
    "InferenceError",
    "InferenceTimeoutError",
    "InvalidRequestError",
    "Llama2ChatTemplate",
    "Message",
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
    "template_for_model",
]
