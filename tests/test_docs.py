from pathlib import Path

from ser_pipeline.corpora.docs import registry_markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_corpora_md_is_fresh():
    """docs/corpora.md is generated from the registry; regenerate with `ser corpora --markdown`."""
    assert (REPO / "docs" / "corpora.md").read_text() == registry_markdown(), (
        "docs/corpora.md is stale: run `.venv/bin/ser corpora --markdown > docs/corpora.md`")
