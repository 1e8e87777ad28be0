"""Hugging Face Hub sources: scan a repository by id, the Hub's own security status, hunting candidates.

Nothing heavy is imported here: ``huggingface_hub`` is loaded only when a Hub target is scanned.
"""
