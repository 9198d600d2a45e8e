# SPDX-License-Identifier: GPL-2.0
# Sphinx configuration for pvkit's Documentation (make htmldocs, which
# builds into build/htmldocs with -W: a warning fails the build).
# Only what Debian's python3-sphinx ships: no extension, no theme
# package.

project = "pvkit"
copyright = "pvkit authors, GPL-2.0"
root_doc = "index"
source_suffix = {".rst": "restructuredtext"}

# man/: the man pages' sources, built by rst2man into vpv-host(8) and
# vpv-ctl(8), not pages of this book (not in the toctree)
exclude_patterns = ["man", "output", "_build"]

# the theme of Debian's python3-sphinx; no web fonts or CDN
html_theme = "alabaster"
html_title = "pvkit documentation"
html_show_sourcelink = False
# benchmarks.rst shows the SVG plots of Documentation/figures
html_static_path = []
