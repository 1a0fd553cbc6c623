"""Table stages at scale: label_intensity -> smoothed_labels -> splits on generated corpus tables.

Tables of Table 1's size (309,355 rows, the training corpora's sample counts, see
``benchmarks/packing.py``) and 10× (3,093,550 rows), with the corpus manifest's columns: many
corpora, speakers per corpus (scaled with the rows), languages, official splits (IEMOCAP
sessions), 8 raw score columns and the intensity. Each corpus table is written to Parquet first
(what the corpus assets leave behind); then, as the assets do, each stage reads its inputs from
Parquet, runs the core functions and writes its output:

* ``label_intensity``: read every corpus table, ``corpus_mean_intensity`` per corpus;
* ``smoothed_labels``: read every corpus table, ``add_soft_labels`` per corpus, concat, sort by
  utterance id, write;
* ``splits``: read ``smoothed_labels``, ``assign_splits``, ``training_meta``, write.

Seconds are wall time of an untraced run; peak memory is ``tracemalloc``'s peak of a second,
traced run of the same stage (Python and numpy/pandas buffers; Arrow's own pool, used inside the
Parquet reader and writer, is not traced, so the IO parts are under-counted by Arrow's transient
buffers).

    PYTHONPATH=$PWD python benchmarks/table_stages.py [--scales 1 10] [--no-memory]

Ends with ``time_growth=<x> memory_growth=<y> slowest_stage_s_at_table1=<s>`` (growth: the largest
ratio of any stage between the last and the first scale).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from ser_pipeline.emotions import CLASSES
from ser_pipeline.labels.harmonize import add_soft_labels, corpus_mean_intensity
from ser_pipeline.labels.intensity import intensity
from ser_pipeline.labels.splits import assign_splits, training_meta

_spec = importlib.util.spec_from_file_location("bench_packing", Path(__file__).with_name("packing.py"))
_packing = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_packing)

#: Table 1 name -> (our corpus name, speakers at Table 1 size, languages)
CORPORA: dict[str, tuple[str, int, tuple[str, ...]]] = {
    "CMU_MOSEI": ("cmu_mosei", 1000, ("en",)), "CREMA-D": ("crema_d", 91, ("en",)),
    "EmoV-DB": ("emov_db", 4, ("en",)), "IEMOCAP": ("iemocap", 10, ("en",)),
    "JL_CORPUS": ("jl_corpus", 4, ("en",)), "MSP-PODCAST": ("msp_podcast", 1400, ("en",)),
    "MSP_IMPROV": ("msp_improv", 12, ("en",)), "Proprietary": ("manifest", 3000, ("en", "ja", "de", "fr")),
    "RAVDESS": ("ravdess", 24, ("en",)), "SAVEE": ("savee", 4, ("en",)), "TESS": ("tess", 2, ("en",)),
    "VESUS": ("vesus", 10, ("en",)), "ESD": ("esd", 20, ("zh", "en")), "AVSP": ("asvp_esd", 900, ("en", "zh", "fr")),
    "OGVC": ("ogvc", 13, ("ja",)), "STUDIES": ("studies", 5, ("ja",)),
}
ROLES = {name: "train" for name, _, _ in CORPORA.values()}


def corpus_table(name: str, n: int, n_speakers: int, languages: tuple[str, ...],
                 rng: np.random.Generator) -> pd.DataFrame:
    """One generated corpus manifest of ``n`` rows (the columns the label stages read)."""
    spk = rng.integers(0, n_speakers, n)
    scores = rng.dirichlet(np.full(len(CLASSES), 0.3), n) * rng.uniform(0.3, 1.0, (n, 1))
    df = pd.DataFrame({
        "utterance_id": pd.Series([f"{name}/s{s:05d}/u{i:08d}" for i, s in enumerate(spk)], dtype="string"),
        "corpus": pd.Series([name] * n, dtype="string"),
        "speaker": pd.Series(np.char.add(f"{name}/", spk.astype(str)), dtype="string"),
        "language": pd.Series(np.asarray(languages)[spk % len(languages)], dtype="string"),
        "duration_s": rng.lognormal(1.2, 0.5, n),
        "official_split": pd.Series(np.asarray([f"Session{k}" for k in range(1, 6)])[spk % 5]
                                    if name == "iemocap" else [None] * n, dtype="string"),
    })
    for j, c in enumerate(CLASSES):
        df[c] = scores[:, j]
    df["intensity"] = intensity(scores)
    return df


def write_corpora(root: Path, scale: int, seed: int = 0) -> int:
    """Write every corpus table to ``root/<corpus>.parquet``; returns the total rows."""
    rng = np.random.default_rng(seed)
    total = 0
    for key, (name, speakers, langs) in CORPORA.items():
        n = _packing.TABLE1_TRAIN[key][0] * scale
        corpus_table(name, n, speakers * scale, langs, rng).to_parquet(root / f"{name}.parquet", index=False)
        total += n
    return total


def _read_corpora(root: Path) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(root / f"{name}.parquet") for name in ROLES}


def stage_label_intensity(root: Path) -> None:
    tables = _read_corpora(root)
    rows = [{"corpus": n, "n": len(t), "mean_intensity": corpus_mean_intensity(t)} for n, t in sorted(tables.items())]
    pd.DataFrame(rows).to_parquet(root / "label_intensity.parquet", index=False)


def stage_smoothed_labels(root: Path) -> None:
    li = pd.read_parquet(root / "label_intensity.parquet")
    mean_e = dict(zip(li["corpus"], li["mean_intensity"], strict=True))
    tables = _read_corpora(root)
    parts = [add_soft_labels(t, mean_e[n]) for n, t in sorted(tables.items())]
    del tables
    df = pd.concat(parts, ignore_index=True).sort_values("utterance_id", kind="stable").reset_index(drop=True)
    del parts
    df.to_parquet(root / "smoothed_labels.parquet", index=False)


def stage_splits(root: Path) -> None:
    df = pd.read_parquet(root / "smoothed_labels.parquet")
    df = df.assign(split=assign_splits(df, ROLES, validation_fraction=0.05, seed=0))
    training_meta(df)
    df.to_parquet(root / "splits.parquet", index=False)


STAGES: dict[str, Callable[[Path], None]] = {
    "label_intensity": stage_label_intensity,
    "smoothed_labels": stage_smoothed_labels,
    "splits": stage_splits,
}


def measure(fn: Callable[[Path], None], root: Path, memory: bool) -> tuple[float, float]:
    """(seconds of an untraced run, tracemalloc peak MB of a traced run, or nan)."""
    gc.collect()
    t = time.perf_counter()
    fn(root)
    seconds = time.perf_counter() - t
    peak = float("nan")
    if memory:
        gc.collect()
        tracemalloc.start()
        fn(root)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
    return seconds, peak


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scales", nargs="+", type=int, default=[1, 10], help="multiples of Table 1's rows")
    ap.add_argument("--no-memory", action="store_true", help="skip the traced runs")
    args = ap.parse_args(argv)
    results: dict[int, dict[str, tuple[float, float]]] = {}
    for scale in args.scales:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            rows = write_corpora(root, scale)
            print(f"{rows:,} rows ({scale}x Table 1):")
            results[scale] = {}
            for stage, fn in STAGES.items():
                s, mb = measure(fn, root, not args.no_memory)
                results[scale][stage] = (s, mb)
                print(f"  {stage:16s} {s:7.2f} s   peak {mb:8.1f} MB (tracemalloc)", flush=True)
    first, last = results[args.scales[0]], results[args.scales[-1]]
    time_growth = max(last[k][0] / first[k][0] for k in STAGES)
    mem_growth = max(last[k][1] / first[k][1] for k in STAGES)
    slowest = max(s for s, _ in results[args.scales[0]].values())
    print(f"time_growth={time_growth:.2f} memory_growth={mem_growth:.2f} slowest_stage_s_at_table1={slowest:.2f}")
    return {"time_growth": time_growth, "memory_growth": mem_growth, "slowest_stage_s_at_table1": slowest,
            "stages": results}


if __name__ == "__main__":
    main()
