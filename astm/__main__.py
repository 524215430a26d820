from astm.cli import main

raise SystemExit(main())
