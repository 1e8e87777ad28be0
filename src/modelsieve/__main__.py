from modelsieve.entry import main

main()
