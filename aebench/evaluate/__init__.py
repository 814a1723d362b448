"""Scoring: test-set metrics of reconstructions and codes, probes of the codes, and the PCA baseline."""
