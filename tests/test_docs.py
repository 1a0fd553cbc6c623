from pathlib import Path

from ser_pipeline.corpora.docs import registry_markdown

REPO = Path(__file__).resolve().parents[1]


def test_docs_corpora_md_is_fresh():
    """docs/corpora.md is generated from the registry; regenerate with `ser corpora --markdown`."""
    assert (REPO / "docs" / "corpora.md").read_text() == registry_markdown(), (
        "docs/corpora.md is stale: run `.venv/bin/ser corpora --markdown > docs/corpora.md`")


def test_docs_labels_md_is_fresh():
    """docs/labels.md is generated from the code; regenerate with `ser labels --markdown`."""
    from ser_pipeline.labels.docs import labels_markdown

    assert (REPO / "docs" / "labels.md").read_text() == labels_markdown(), (
        "docs/labels.md is stale: run `.venv/bin/ser labels --markdown > docs/labels.md`")


def test_no_document_points_outside_the_repository():
    """README, docs and code never send a user to the steering folder (shared/)."""
    offenders = []
    for path in [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "ser_pipeline").rglob("*.py")]:
        if "shared/" in path.read_text():
            offenders.append(str(path.relative_to(REPO)))
    assert not offenders, offenders
