"""The generated protobuf module must match the .proto file."""

from __future__ import annotations

from pathlib import Path
import subprocess
import sys

PROTOCOL_DIR = (
    Path(__file__).parents[2] / "custom_components" / "predbat_gateway" / "protocol"
)


def test_generated_code_matches_proto(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{PROTOCOL_DIR}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            str(PROTOCOL_DIR / "predbat.proto"),
        ],
        check=True,
    )
    for name in ("predbat_pb2.py", "predbat_pb2.pyi"):
        generated = (tmp_path / name).read_text()
        committed = (PROTOCOL_DIR / name).read_text()
        assert generated == committed, f"{name} is out of date: run scripts/gen_proto"
