from slcc.cli import main

main()
