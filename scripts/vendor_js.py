"""Fetch the pinned MathJax and mermaid from the npm registry into ``_vendor/`` (served offline).

Each tarball's SHA-512 is checked against the integrity recorded below before anything is
unpacked; a mismatch stops with an error and leaves ``_vendor/`` as it was.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENDOR = ROOT / "_vendor"
PACKAGES = {
    # name@version: (sha512 integrity as npm records it, {path in package: path under _vendor})
    "mathjax@3.2.2": (
        "sha512-Bt+SSVU8eBG27zChVewOicYs7Xsdt40qm4+UpHyX7k0/O9NliPc+x77k1/FEsPsjKPZGJvtRZM1vO+geW0OhGw==",
        {"package/es5": "mathjax"},
    ),
    "mermaid@11.12.1": (
        "sha512-UlIZrRariB11TY1RtTgUWp65tphtBv4CSq7vyS2ZZ2TgoMjs2nloq+wFqxiwcxlhHUvs7DPGgMjs2aeQxz5h9g==",
        {"package/dist/mermaid.esm.min.mjs": "mermaid/mermaid.esm.min.mjs",
         "package/dist/chunks/mermaid.esm.min": "mermaid/chunks/mermaid.esm.min"},
    ),
}


def integrity(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def main() -> None:
    marker = VENDOR / ".versions"
    wanted = "\n".join(PACKAGES)
    if marker.exists() and marker.read_text() == wanted:
        print(f"{VENDOR.relative_to(ROOT)}/ is up to date")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        staged = tmp / "vendor"
        for spec, (expected, layout) in PACKAGES.items():
            out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True,
                                 capture_output=True, text=True).stdout.strip().splitlines()[-1]
            tarball = tmp / out
            got = integrity(tarball)
            if got != expected:
                sys.exit(f"integrity mismatch for {spec}: expected {expected}, got {got}")
            unpacked = tmp / spec.replace("@", "-")
            with tarfile.open(tarball) as tar:
                tar.extractall(unpacked, filter="data")
            for src, dst in layout.items():
                source, target = unpacked / src, staged / dst
                target.parent.mkdir(parents=True, exist_ok=True)
                if source.is_dir():
                    shutil.copytree(source, target)
                else:
                    shutil.copy2(source, target)
        (staged / ".versions").write_text(wanted)
        shutil.rmtree(VENDOR, ignore_errors=True)
        shutil.move(str(staged), VENDOR)
    print(f"vendored {', '.join(PACKAGES)} into {VENDOR.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
