"""`python -m model_export {dataset,train,export,verify,evaluate}`."""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from model_export import commands


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m model_export", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in commands.COMMANDS.items():
        module.add_arguments(sub.add_parser(name, help=module.__doc__))
    args = parser.parse_args()
    commands.COMMANDS[args.command].run(args)


if __name__ == "__main__":
    main()
