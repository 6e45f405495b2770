"""`python -m service [--host HOST] [--port PORT]`: serve the model over HTTP."""

import argparse
import logging
import sys

import uvicorn

from service.app import create_app
from service.model_info import ModelLoadError
from service.predictor import Predictor
from service.settings import get_settings


def main() -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m service", description=__doc__)
    parser.add_argument("--host", default=settings.host, help="default: REGIONSERVE_HOST")
    parser.add_argument("--port", type=int, default=settings.port, help="default: REGIONSERVE_PORT")
    args = parser.parse_args()
    try:
        predictor = Predictor.from_settings(settings)
    except ModelLoadError as error:
        print(f"regionserve: cannot start: {error}", file=sys.stderr)
        sys.exit(2)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = create_app(settings, predictor)
    uvicorn.run(app, host=args.host, port=args.port, timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
