"""Conformance kit: suites generated from the statechart, adapters, a runner and a random mode.

* :mod:`.suite`: coverage goals, the generator (BFS over the model), the versioned JSON format;
* :mod:`.adapters`: the session API (create, send, advance, read, dispose), Python and exec;
* :mod:`.runner`: replay a suite, report the first disagreeing step of each case;
* :mod:`.random_mode`: Hypothesis stateful testing of model and implementation together;
* :mod:`.pytest`: parametrize a team's own tests with the generated cases;
* :mod:`.trace`: check a recorded trace against the model; :mod:`.sim_trace`: the simulator's log as one.

See docs/conformance.md.
"""

from .adapters import Adapter, AdapterError, ExecAdapter, ModelAdapter, PythonAdapter, adapter_from_spec
from .runner import CaseResult, StepFailure, SuiteResult, format_failure, run_case, run_suite
from .sim_trace import write_traces
from .suite import (
    DIMENSIONS,
    SCHEMA,
    SCHEMA_VERSION,
    SuiteError,
    default_suite,
    dump_suite,
    format_coverage,
    generate_suite,
    load_suite,
    suite_coverage,
)
from .trace import TraceError, TraceResult, check_trace

__all__ = [
    "Adapter",
    "AdapterError",
    "CaseResult",
    "DIMENSIONS",
    "ExecAdapter",
    "ModelAdapter",
    "PythonAdapter",
    "SCHEMA",
    "SCHEMA_VERSION",
    "StepFailure",
    "SuiteError",
    "SuiteResult",
    "TraceError",
    "TraceResult",
    "adapter_from_spec",
    "check_trace",
    "default_suite",
    "dump_suite",
    "format_coverage",
    "format_failure",
    "generate_suite",
    "load_suite",
    "run_case",
    "run_suite",
    "suite_coverage",
    "write_traces",
]
