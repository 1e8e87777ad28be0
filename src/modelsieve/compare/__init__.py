"""Side-by-side runs of modelsieve and other scanners on the same inputs, with agreement matrices."""
