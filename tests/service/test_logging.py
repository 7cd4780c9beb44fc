"""The service's log configuration keeps credentials and documents out of debug logs."""

from __future__ import annotations

import logging

import pytest

from service.__main__ import QUIET_LIBRARY_LOGGERS, configure_logging


@pytest.fixture
def restore_loggers() -> object:
    names = ("", *QUIET_LIBRARY_LOGGERS)
    levels = {name: logging.getLogger(name).level for name in names}
    yield None
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("restore_loggers")
@pytest.mark.parametrize("name", QUIET_LIBRARY_LOGGERS)
def test_debug_level_keeps_library_at_info(name: str) -> None:
    configure_logging("debug")

    assert logging.getLogger(name).getEffectiveLevel() == logging.INFO


@pytest.mark.usefixtures("restore_loggers")
def test_debug_level_reaches_service_loggers() -> None:
    configure_logging("debug")

    assert logging.getLogger("service.app").isEnabledFor(logging.DEBUG)
