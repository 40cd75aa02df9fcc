import sys

from redis_audit.cli.main import main

sys.exit(main())
