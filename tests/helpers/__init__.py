"""What the tests share besides fixtures: test photos, tiny stand-in models, a stand-in Hub.

Fixtures live in ``tests/conftest.py``; nothing imports it. Everything a test imports
by name lives here.
"""
