#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make check: every Documentation/*.rst parses as reStructuredText with
no warning (Sphinx's :doc: role and toctree directive are allowed)."""

import sys
from pathlib import Path

import docutils.core
from docutils.parsers.rst import directives, roles, Directive, nodes


class Ignored(Directive):
    has_content = True
    optional_arguments = 1
    option_spec = {"maxdepth": directives.unchanged}

    def run(self):
        return []


def doc_role(name, rawtext, text, lineno, inliner, options=None,
             content=None):
    return [nodes.literal(rawtext, text)], []


directives.register_directive("toctree", Ignored)
roles.register_local_role("doc", doc_role)


class Collect:
    def __init__(self):
        self.lines = []

    def write(self, s):
        self.lines.append(s)


def main():
    bad = 0
    root = Path(__file__).resolve().parents[1] / "Documentation"
    for f in sorted(root.glob("*.rst")):
        err = Collect()
        docutils.core.publish_doctree(
            f.read_text(), source_path=str(f),
            settings_overrides={"report_level": 2, "halt_level": 5,
                                "warning_stream": err})
        text = "".join(err.lines).strip()
        if text:
            bad += 1
            print(text)
    print(f"   {len(list(root.glob('*.rst')))} documents, {bad} with problems")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
