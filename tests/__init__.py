"""The tests, a package so that bench/ imports their helpers (tests.support, tests.nse_server) too."""
