"""The blocking baseline app serializes requests, which is what the service avoids."""

from __future__ import annotations

import asyncio

import httpx

from benchmarks.sync_baseline_app import create_baseline_app
from service.app import create_app
from tests.service.conftest import (
    FAKE_SUMMARY,
    FakeInferenceClient,
    make_settings,
    running_server,
)

PARALLEL_REQUESTS = 4


def send_parallel(base_url: str) -> list[httpx.Response]:
    async def send_all() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
            requests = [
                client.post("/summarize", json={"document": f"Document {index}."})
                for index in range(PARALLEL_REQUESTS)
            ]
            return await asyncio.gather(*requests)

    return asyncio.run(send_all())


def test_baseline_handles_one_request_at_a_time() -> None:
    fake_client = FakeInferenceClient(latency=0.2)
    with running_server(create_baseline_app(make_settings(), client=fake_client)) as url:
        responses = send_parallel(url)

    assert [response.status_code for response in responses] == [200] * PARALLEL_REQUESTS
    assert responses[0].json()["summary"] == FAKE_SUMMARY
    # The fake's synchronous generate sleeps on the event loop's thread, so no two calls
    # overlap, although all four requests were sent at once.
    assert fake_client.max_in_flight == 1
    assert {call[0] for call in fake_client.calls} == {"generate"}


def test_service_overlaps_same_requests() -> None:
    fake_client = FakeInferenceClient(latency=0.2)
    with running_server(create_app(make_settings(), client=fake_client)) as url:
        responses = send_parallel(url)

    assert [response.status_code for response in responses] == [200] * PARALLEL_REQUESTS
    assert fake_client.max_in_flight == PARALLEL_REQUESTS
