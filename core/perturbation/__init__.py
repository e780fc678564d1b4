"""Phonetic perturbation and robustness: pronunciations, sound-alikes, confusions, perturbation models, NPRR evaluation."""
