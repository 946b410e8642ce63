"""``python -m rq.cron CONFIG [--url URL] [--logging-level L] [--timezone TZ] [--name N] [--path DIR]``."""

import sys

from .command import main

if __name__ == '__main__':
    sys.exit(main())
