"""Shared test builders: the toy world and its stand-in backbone (``toydata``), the toy world with a tiny model and
an indexed gallery (``world``), a tiny random CLIP (``tinyclip``) and the in-process CLI runner (``cli``).

``tests/conftest.py`` builds the toy world and the tiny CLIP once per session; tests take them as fixtures.
"""
