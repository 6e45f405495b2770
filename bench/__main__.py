"""`python -m bench [NAME ...]`: run the named benchmarks (all by default)."""

import sys

from bench import (
    compare,
    compression,
    cpu_threads,
    event_loop,
    export_zoo,
    front_end,
    gpu,
    modes,
    proposal_head,
    proposals,
    roi_pooling,
    roi_training,
    segmentation,
    service_latency,
    superpixel_pooling,
    v2_protocol,
    whole_model,
)

BENCHMARKS = {
    "roi": roi_pooling,
    "roi-training": roi_training,
    "superpixel": superpixel_pooling,
    "model": whole_model,
    "service": service_latency,
    "compare": compare,
    "compression": compression,
    "gpu": gpu,
    "v2": v2_protocol,
    "export": export_zoo,
    "proposals": proposals,
    "front-end": front_end,
    "cpu-threads": cpu_threads,
    "event-loop": event_loop,
    "modes": modes,
    "proposal-head": proposal_head,
    "segmentation": segmentation,
}


def main() -> None:
    # --name=value arguments are options, read by the benchmark itself
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        sys.exit(f"unknown benchmark {unknown}; choose from {list(BENCHMARKS)}")
    for name in names:
        BENCHMARKS[name].main()


if __name__ == "__main__":
    main()
