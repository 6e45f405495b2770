"""A model's classical fallback: the same ONNX file with its proposal head's outputs pruned
off (service/inference/pruning.py) and its `proposal_head` key dropped, so the service serves
proposals mode with selective search, as for a model without a proposal head; its recorded
samples keep the outputs left, so the self-test still replays them."""

import json
from pathlib import Path

import numpy as np
import onnx

from regionserve_contract.files import SAMPLE_KEY, samples_path
from regionserve_contract.metadata import Key
from service.inference.pruning import prune


def without_proposal_head(path: Path, folder: Path) -> Path:
    """`path` pruned to its other heads' outputs, written into `folder` with its samples;
    `path` itself when it has no proposal head."""
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    if Key.PROPOSAL_HEAD not in props:
        return path
    outputs = list(json.loads(props[Key.OUTPUTS]).values())  # every head but the proposals
    pruned = prune(model, outputs)
    kept = [p for p in pruned.metadata_props if p.key != Key.PROPOSAL_HEAD]
    del pruned.metadata_props[:]
    pruned.metadata_props.extend(kept)
    out = folder / f"{path.stem}_classical.onnx"
    onnx.save(pruned, str(out))
    with np.load(samples_path(path), allow_pickle=False) as archive:
        samples = {
            key: archive[key]
            for key in archive.files
            if (found := SAMPLE_KEY.fullmatch(key)) is None
            or found[2] == "input"
            or found[3] in outputs
        }
    np.savez(samples_path(out), **samples)
    return out
