"""`python -m interhand_ros.runner` = `interhand-run`."""
import sys

from interhand_ros.runner.cli import main

sys.exit(main())
