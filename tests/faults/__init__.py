"""Fault tests: the network, files, processes, corrections and secrets going wrong."""
