from tuilabel.cli import main

raise SystemExit(main())
