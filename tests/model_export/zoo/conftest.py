"""Zoo models saved once per test module, with a classes file beside them."""

import argparse
from pathlib import Path

import pytest

from model_export.onnx_export import command
from tests.model_export.zoo.models import CLASSES


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zoo")
    (folder / "classes.txt").write_text("\n".join(CLASSES) + "\n")
    return folder


def export_args(*argv: str | Path) -> argparse.Namespace:
    """The export command's own parser on `argv`."""
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])
