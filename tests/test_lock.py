"""The lock covers what is installed: every distribution of this environment (the project
itself aside) is pinned in constraints.txt at the version installed."""

from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK = Path(__file__).parents[1] / "constraints.txt"
NOT_LOCKED = {"regionserve", "pip", "setuptools", "wheel"}  # the project and pip's own tools


def test_every_installed_distribution_is_pinned_at_its_version() -> None:
    pinned = dict(
        line.split("==", 1)
        for line in LOCK.read_text().splitlines()
        if line and not line.startswith("#")
    )
    pinned = {canonicalize_name(name): version for name, version in pinned.items()}
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    unpinned = {n: v for n, v in installed.items() if n not in NOT_LOCKED and pinned.get(n) != v}
    assert unpinned == {}, f"installed but not pinned so in constraints.txt: {unpinned}"
