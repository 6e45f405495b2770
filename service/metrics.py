"""Prometheus metrics, one registry per app so that several apps can live in one process.

With several server processes (`service.server.processes`) each process writes its values to files
in PROMETHEUS_MULTIPROC_DIR and a scrape of any of them adds up all: counters and histograms
summed, the queue depth and the ready processes summed over live processes.
"""

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "regionserve_requests", "HTTP requests", ["route", "status"], registry=r
        )
        self.request_latency = Histogram(
            "regionserve_request_latency_seconds",
            "Request latency",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.inference_latency = Histogram(
            "regionserve_inference_latency_seconds",
            "onnxruntime time per batch",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "regionserve_batch_size",
            "Images per inference batch",
            buckets=(1, 2, 4, 8, 16, 32, 64),
            registry=r,
        )
        self.queue_depth = Gauge(
            "regionserve_queue_depth",
            "Requests waiting for inference",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.processes_ready = Gauge(
            "regionserve_processes_ready",
            "Server processes whose model passed its self-test",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.regions = Histogram(
            "regionserve_regions_per_request",
            "Regions in a response",
            buckets=(0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=r,
        )
        self.model_info = Gauge(
            "regionserve_model_info",
            "The model being served: the file loaded and the provider running it",
            ["name", "version", "provider", "file", "roi_lowering"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def count_request(self, route: str, status: int) -> None:
        self.requests.labels(route, str(status)).inc()

    def observe_batch(self, size: int, seconds: float) -> None:
        self.batch_size.observe(size)
        self.inference_latency.observe(seconds)

    def exposition_registry(self) -> CollectorRegistry:
        """What a scrape reads: this app's registry, or every process's values."""
        if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
            return self.registry
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
