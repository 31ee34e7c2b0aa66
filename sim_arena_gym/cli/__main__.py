import sys

from sim_arena_gym.cli import main

sys.exit(main())
