"""`python -m model_export {dataset,train,export,verify,evaluate}`."""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Before TensorFlow is imported: its start-up lines (CPU features, oneDNN, CUDA factories, and
# absl's "log messages before absl::InitializeLog()") are C++ INFO, WARNING and ERROR logs that
# level 3 hides; an explicit TF_CPP_MIN_LOG_LEVEL in the environment still shows them.
if not os.environ.get("TF_CPP_MIN_LOG_LEVEL"):
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"

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
