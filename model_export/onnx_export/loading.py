"""Load the user's `.keras` file: their modules first (`--custom-objects`), and one line naming
the layer whose class Keras does not know when loading fails."""

import importlib
import json
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keras

from model_export.onnx_export.errors import ExportError

# Packages whose classes Keras finds by their module alone (keras.saving's own rule).
KERAS_PACKAGES = {"keras", "keras_hub", "keras_cv", "keras_nlp"}


def import_custom_objects(modules: list[str]) -> dict[str, Any]:
    """Import each module (from the current directory or PYTHONPATH): registering its classes
    is up to it; its own classes and functions are also handed to Keras by name."""
    if "" not in sys.path and str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    objects: dict[str, Any] = {}
    for name in modules:
        try:
            module = importlib.import_module(name)
        except Exception as error:  # the user's module: any failure, on one line
            reason = f"{type(error).__name__}: {(str(error).strip().splitlines() or [''])[0]}"
            raise ExportError(f"--custom-objects {name}: cannot import it: {reason}") from error
        objects.update(
            (key, value)
            for key, value in vars(module).items()
            if callable(value) and getattr(value, "__module__", None) == module.__name__
        )
    return objects


def _objects(config: Any, layer: str | None) -> Iterator[tuple[dict[str, Any], str | None]]:
    """Every serialized object in a config, with the name of the layer it belongs to."""
    if isinstance(config, list):
        for item in config:
            yield from _objects(item, layer)
    elif isinstance(config, dict):
        if "class_name" in config and "module" in config:
            yield config, layer
        for key, value in config.items():
            if key == "layers" and isinstance(value, list):  # a model's layers, each named
                for item in value:
                    name = item.get("name") if isinstance(item, dict) else None
                    yield from _objects(item, name if isinstance(name, str) else layer)
            else:
                yield from _objects(value, layer)


def _unknown(entry: dict[str, Any], known: dict[str, Any]) -> bool:
    module = entry.get("module") or ""
    if module.split(".")[0] in KERAS_PACKAGES or entry["class_name"] == "__keras_tensor__":
        return False
    names = {entry.get("registered_name"), entry["class_name"]} - {None}
    return not names & (set(keras.saving.get_custom_objects()) | set(known))


def unknown_class(path: Path, known: dict[str, Any]) -> str | None:
    """What Keras cannot find in the file's config.json, on one line; None when all is known."""
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    for entry, layer in _objects(config, None):
        if _unknown(entry, known):
            module = entry.get("module") or ""
            where = f"layer {layer!r}" if layer else "the model"
            flag = f"--custom-objects {module if module != '__main__' else 'MODULE'}"
            return (
                f"{where} is of class {entry['class_name']} (module {module!r}), which Keras "
                f"does not know: pass {flag}, the module that defines and registers it "
                "(keras.saving.register_keras_serializable)"
            )
    return None


def load_keras_model(path: Path, modules: list[str]) -> keras.Model:
    known = import_custom_objects(modules)
    try:
        return keras.saving.load_model(path, custom_objects=known, compile=False)
    except (OSError, ValueError, TypeError) as error:
        reason = unknown_class(path, known) or str(error).strip().splitlines()[0]
        raise ExportError(f"cannot load {path}: {reason}") from error
