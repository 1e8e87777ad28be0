from modelsieve.cli import run

run()
