"""The event loop's own stages of one boxes request, timed in a tree's own process:
`python bench/event_loop_stages.py TREE BODIES` prints one JSON object, microseconds of CPU per
call (median of rounds, each the mean of many calls) of each stage of TREE's service/ on the
bodies in BODIES (a JSON file: name -> [body file, content type, image file])."""

import json
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

ROUNDS, CALLS = 7, 300
BOUND = (1024, 1024)  # the tiny model's: max_image_side at export


def cpu_us(fn: Callable[[], Any]) -> float:
    fn()
    rounds = []
    for _ in range(ROUNDS):
        start = time.thread_time()
        for _ in range(CALLS):
            fn()
        rounds.append((time.thread_time() - start) / CALLS)
    return statistics.median(rounds) * 1e6


def main(bodies: dict[str, list[str]]) -> dict[str, dict[str, float]]:
    from service.http.access_log import log_request
    from service.http.logs import configure_logging
    from service.http.request_context import RequestRecord
    from service.region_api.parsing import parse_body
    from service.regions.memory_estimate import image_bytes
    from service.settings import Settings

    configure_logging("text")
    handler = logging.getLogger().handlers[0]
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(open(os.devnull, "w"))  # noqa: SIM115
    settings = Settings()
    record, client = RequestRecord("a" * 32, 32), ("127.0.0.1", 50000)
    limits = (settings.max_image_pixels, BOUND, settings.max_decode_mib * 2**20)
    log_line = partial(log_request, "POST", "/classify-regions", 200, 5.0, record, client)
    out = {}
    for name, (body_file, content_type, image_file) in bodies.items():
        body, image = Path(body_file).read_bytes(), Path(image_file).read_bytes()
        out[name] = {
            "multipart and boxes JSON": cpu_us(partial(parse_body, body, content_type)),
            "memory estimate": cpu_us(partial(image_bytes, image, *limits)),
            "access log line": cpu_us(log_line),
        }
    return out


if __name__ == "__main__":
    sys.path.insert(0, sys.argv[1])
    print(json.dumps(main(json.loads(Path(sys.argv[2]).read_text()))))
