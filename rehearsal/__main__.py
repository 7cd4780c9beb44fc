"""`python -m rehearsal`: the dev stage's deploy and destroy against a local moto server."""

import sys

from rehearsal.lifecycle import main

sys.exit(main())
