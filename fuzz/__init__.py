"""Fuzzing dyntools: coverage-guided targets, their seed corpora, and the invariant they check."""
