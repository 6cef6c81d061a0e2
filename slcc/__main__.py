from slcc.cli import main

raise SystemExit(main())
