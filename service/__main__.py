"""`python -m service [--host HOST] [--port PORT]`: serve the model over HTTP."""

import argparse
import sys

from service.http.logs import configure_logging
from service.inference.cpu_plan import available_cores, process_count
from service.server.processes import serve_processes
from service.server.serving import serve
from service.settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default=settings.host, help="default: REGIONSERVE_HOST")
    parser.add_argument("--port", type=int, default=settings.port, help="default: REGIONSERVE_PORT")
    args = parser.parse_args()
    configure_logging(settings.log_format)
    processes = settings.processes or process_count(available_cores())
    if processes == 1:
        serve(args.host, args.port)
    else:
        sys.exit(serve_processes(settings, args.host, args.port, processes))


if __name__ == "__main__":
    main()
