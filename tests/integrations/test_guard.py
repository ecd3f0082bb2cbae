"""The guard in conftest.py: the framework tests cannot reach beyond 127.0.0.1 unnoticed."""

from __future__ import annotations

import socket

import pytest

import conftest


def test_connections_and_lookups_beyond_loopback_are_refused_and_recorded():
    with pytest.raises(ConnectionRefusedError, match="may not leave"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)  # TEST-NET-1: never routed
    with pytest.raises(socket.gaierror, match="may not resolve"):
        socket.getaddrinfo("huggingface.co", 443)
    assert conftest.attempts == ["connect ('192.0.2.1', 443)", "resolve huggingface.co"]
    conftest.attempts.clear()  # else the guard fails this test
    with socket.create_server(("127.0.0.1", 0)) as server, socket.create_connection(server.getsockname(), timeout=1):
        pass  # loopback is allowed
