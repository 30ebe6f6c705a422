"""Peak memory of one speech analysis, measured in a fresh process (its own peak RSS)."""

import json
import subprocess
import sys
import textwrap

_SCRIPT = textwrap.dedent("""
    import json, resource, sys
    import numpy as np
    from {module} import {function} as analyse
    seconds = float(sys.argv[1])
    # Noise at speech level, made in float32 directly so that no transient copy raises the peak.
    samples = 0.1 * np.random.default_rng(0).standard_normal(int(seconds * 16000), dtype=np.float32)
    analyse(samples[:1600], *{args})  # imports and first-call caches are not growth
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    analyse(samples, *{args})
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({{"growth_mb": (after - before) / 1024}}))
""")


def peak_growth_mb(module: str, function: str, seconds: float, args: str = "()") -> float:
    """How far the process's peak memory rises while `function(samples, *args)` of `module`
    analyses `seconds` of 16 kHz noise; `args` is the Python text of the other arguments."""
    script = _SCRIPT.format(module=module, function=function, args=args)
    result = subprocess.run(
        [sys.executable, "-c", script, str(seconds)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return float(json.loads(result.stdout.strip().splitlines()[-1])["growth_mb"])
