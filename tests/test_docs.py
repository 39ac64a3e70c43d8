"""The tables and outputs the docs quote are what their commands print now (`make docs`
regenerates them; docs/generate.py).  The slow blocks (the full review, the make-scale
sweeps) are rerun only when their stamp in docs/generated.lock does not match the sources
and the block: `make docs` writes it, and any change to src/, examples/ or a block since then
makes this test rerun them."""

import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _generator():
    spec = importlib.util.spec_from_file_location(
        "docs_generate", os.path.join(ROOT, "docs", "generate.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_every_generated_block_is_what_its_command_prints():
    gen = _generator()
    sources, lock = gen.sources_digest(), gen.read_lock()
    stale = []
    for rel in gen.FILES:
        with open(os.path.join(ROOT, rel)) as fh:
            text = fh.read()
        for spec, body in gen.blocks(text):
            if gen.stamped(spec, body, lock, sources):
                continue
            if gen.render(spec) != body:
                stale.append(f"{rel}: <!-- generated: {spec} -->")
    assert stale == [], "run `make docs`: " + "; ".join(stale)


def test_the_docs_have_generated_blocks_and_the_generator_knows_their_views():
    gen = _generator()
    specs = []
    for rel in gen.FILES:
        with open(os.path.join(ROOT, rel)) as fh:
            specs += [spec for spec, _ in gen.blocks(fh.read())]
    assert len(specs) >= 8
    assert {s.split()[0] for s in specs} <= set(gen.VIEWS)


def test_a_stamp_covers_only_the_sources_and_body_it_was_made_from(tmp_path, monkeypatch):
    gen = _generator()
    lock = {"sources": "s1", "blocks": {"review": gen._body_digest("table\n")}}
    assert gen.stamped("review", "table\n", lock, "s1")
    assert not gen.stamped("review", "table edited\n", lock, "s1")  # a hand edit
    assert not gen.stamped("review", "table\n", lock, "s2")  # the model changed since
    assert not gen.stamped("workloads", "table\n", {**lock, "blocks": {"workloads": "x"}}, "s1")
    # the digest follows every model source file
    monkeypatch.setattr(gen, "ROOT", str(tmp_path))
    (tmp_path / "src" / "uvmsim").mkdir(parents=True)
    (tmp_path / "examples").mkdir()
    (tmp_path / "docs").mkdir()
    for rel in gen.SOURCE_FILES:
        (tmp_path / rel).write_text("x")
    model = tmp_path / "src" / "uvmsim" / "uvm_page.py"
    model.write_text("a = 1\n")
    before = gen.sources_digest()
    model.write_text("a = 2\n")
    assert gen.sources_digest() != before
