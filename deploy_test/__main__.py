from deploy_test.run import main

raise SystemExit(main())
