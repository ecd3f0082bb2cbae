"""The peer comparison (same as `fastrerank bench --compare`); see fastrerank/bench/compare.py.

python benchmarks/compare.py --model .cache/models/minilm-l6-test --peer-python .venv-peers/bin/python
"""

import sys

from fastrerank.bench.compare import main

sys.exit(main())
