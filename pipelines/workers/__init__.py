"""Extraction worker processes: the CPU-bound part of the pipeline, off the reactor."""
