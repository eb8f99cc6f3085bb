from hallpulse.cli import main

main()
