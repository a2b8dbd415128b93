"""Run the whole benchmark suite: the same as `handgrad bench` (see handgrad/bench.py).

    python benchmarks/run.py --json bench.json --markdown bench.md
"""

import argparse

from handgrad import bench

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=bench.__doc__.splitlines()[0])
    bench.add_arguments(parser)
    raise SystemExit(bench.main(parser.parse_args()))
