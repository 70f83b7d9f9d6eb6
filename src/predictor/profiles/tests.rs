//! Unit tests on small synthetic profile folders.
