"""The guarded protocol subclasses uvicorn's private HttpToolsProtocol: under any uvicorn but
the one it was written for, importing it stops with one clear message."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[3]


def test_another_uvicorn_is_refused_at_import() -> None:
    code = "import uvicorn; uvicorn.__version__ = '0.99.0'; import service.server.guarded_protocol"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode != 0
    assert "subclasses uvicorn 0.54.0's private HttpToolsProtocol" in result.stderr
    assert "uvicorn 0.99.0 is installed" in result.stderr


def test_only_the_server_options_import_it() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "service").rglob("*.py")
        if "guarded_protocol import" in path.read_text()
    )
    assert importers == ["service/server/options.py"]
