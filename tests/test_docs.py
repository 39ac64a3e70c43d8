"""The tables and outputs the docs quote are what their commands print now (`make docs`
regenerates them; docs/generate.py).  Slow (it reruns the review and the scaling runs the
docs show), and the only test that does."""

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
    stale = []
    for rel in gen.FILES:
        with open(os.path.join(ROOT, rel)) as fh:
            text = fh.read()
        for spec, body in gen.blocks(text):
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
