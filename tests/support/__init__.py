"""Plain helpers and data the tests share. Nothing here is a fixture (those live in the
conftest.py files) or a test; tests import from here, never from one another."""
