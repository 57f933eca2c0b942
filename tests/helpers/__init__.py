"""Shared test builders: the toy world and its stand-in backbone (``toydata``), the toy world with a tiny model and
an indexed gallery, and a run trained on it (``world``), a tiny random CLIP (``tinyclip``), the in-process CLI runner
(``cli``) and the read-only guard of shared runs (``frozen``).

``tests/conftest.py`` builds the toy world, the toy run, the webcam run and the tiny CLIP once per session; tests
take them as fixtures.
"""
