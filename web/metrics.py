"""Prometheus metrics of one app, in a registry of its own so that apps never share counters."""
from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        # process_open_fds / process_max_fds among them: the SFU's sockets count against the limit
        ProcessCollector(registry=self.registry)
        self.http_requests = Counter(
            "hoinghi_http_requests", "HTTP requests served", ["method", "route", "status"], registry=self.registry
        )
        self.http_seconds = Histogram(
            "hoinghi_http_request_seconds", "HTTP request duration", ["route"], registry=self.registry
        )
        self.logins = Counter("hoinghi_logins", "Login attempts", ["kind", "result"], registry=self.registry)
        self.socket_connections = Gauge(
            "hoinghi_socket_connections", "Open Socket.IO connections", registry=self.registry
        )
