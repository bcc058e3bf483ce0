"""Prometheus metrics of one app, in a registry of its own so that apps never share counters."""
from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from sfu.drops import DROPS


class SfuDrops(Collector):
    """The SFU's dropped-packet counts (sfu.drops), read at scrape time: the forwarding path
    keeps plain integers and never touches prometheus_client."""

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily("hoinghi_sfu_dropped_packets", "Packets the SFU dropped, by reason",
                                     labels=["reason"])
        for reason, count in sorted(DROPS.items()):
            family.add_metric([reason], count)
        yield family


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
        self.registry.register(SfuDrops())
        self.loop_lag = Histogram(
            "hoinghi_event_loop_lag_seconds", "How much later than asked the event loop woke (web/loop_lag.py)",
            buckets=(0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0), registry=self.registry,
        )
        self.loop_lag_max = Gauge(
            "hoinghi_event_loop_lag_max_seconds", "Worst event-loop lag since the last /metrics scrape",
            registry=self.registry,
        )
        self.socket_refused = Counter(
            "hoinghi_socket_refused", "Socket.IO packets, events and connections refused (web/socket_guard.py)",
            ["reason"], registry=self.registry,
        )
