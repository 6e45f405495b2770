"""`python -m service [--host HOST] [--port PORT]`: serve the model over HTTP."""

import argparse
import logging
import sys
from typing import NoReturn

import uvicorn

from service.app import create_app
from service.model_info import ModelLoadError
from service.predictor import Predictor
from service.server_options import server_options
from service.settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default=settings.host, help="default: REGIONSERVE_HOST")
    parser.add_argument("--port", type=int, default=settings.port, help="default: REGIONSERVE_PORT")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        predictor = Predictor.from_settings(settings)
    except ModelLoadError as error:
        fail(str(error))
    failure: list[str] = []

    def stop_serving(message: str) -> None:
        failure.append(message)
        server.should_exit = True

    app = create_app(settings, predictor, on_failure=stop_serving)
    server = uvicorn.Server(
        uvicorn.Config(app, host=args.host, port=args.port, **server_options(settings))
    )
    server.run()
    if failure:
        fail(failure[0])


def fail(message: str) -> NoReturn:
    """One line naming what failed, and a non-zero exit, whatever stage it failed at."""
    print(f"regionserve: cannot start: {message}", file=sys.stderr)
    sys.exit(2)


if __name__ == "__main__":
    main()
