"""``python -m fastmcp_scopes``: the ``fastmcp-scopes`` command line, for an environment whose scripts are not on
``PATH``."""

import sys

from fastmcp_scopes.cli import main

if __name__ == "__main__":
    sys.exit(main())
