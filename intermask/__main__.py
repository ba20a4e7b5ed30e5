from intermask.cli import main

raise SystemExit(main())
