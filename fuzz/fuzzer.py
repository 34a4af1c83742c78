"""Run one fuzz target under atheris (coverage-guided, libFuzzer).

    python fuzz/fuzzer.py TARGET [LIBFUZZER FLAGS...] [CORPUS DIRS OR INPUTS...]
    python fuzz/fuzzer.py --seed          add the seeds the core makes to fuzz/corpus/
    python fuzz/fuzzer.py --list          the targets (fuzz/targets.py)

``python3 dev.py fuzz TARGET [--runs N] [--time SECONDS]`` runs this with the fuzz extra.
Without a corpus folder or input among the arguments it reads ``fuzz/corpus/TARGET`` and writes
the new inputs it finds to ``fuzz/work/TARGET`` (ignored by git). Defaults, unless given:
``-timeout=10`` (an input running longer is a hang), ``-rss_limit_mb=2048`` and
``-malloc_limit_mb=512`` (a hostile length prefix must not allocate gigabytes),
``-max_len=65536``. A crash is written to ``crash-<sha1>`` in the current folder (or after
``-artifact_prefix``; by this runner as well as by libFuzzer, whose own write a slow exit can
cut short); replay it with ``python fuzz/fuzzer.py TARGET crash-...``. Minimise the corpus
into a fresh folder with ``python fuzz/fuzzer.py TARGET -merge=1 NEW fuzz/corpus/TARGET
fuzz/work/TARGET`` and make ``NEW`` the corpus.
"""

from __future__ import annotations

import hashlib
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

FUZZ = Path(__file__).resolve().parent
DEFAULTS = ("-timeout=10", "-rss_limit_mb=2048", "-malloc_limit_mb=512", "-max_len=65536")


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(FUZZ))
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    if argv[0] == "--seed":
        import seeds

        seeds.write(FUZZ / "corpus")
        return 0
    if argv[0] == "--list":
        import targets

        print("\n".join(targets.TARGETS))
        return 0
    import atheris

    with atheris.instrument_imports(include=["synckit", "targets", "google.protobuf", "jwt"]):
        import targets

    name, flags = argv[0], argv[1:]
    if name not in targets.TARGETS:
        print(f"unknown target {name!r}; the targets: {', '.join(targets.TARGETS)}")
        return 2
    target = targets.TARGETS[name]
    given = {f.split("=", 1)[0] for f in flags if f.startswith("-")}
    # libFuzzer runs argv[0] through the shell for -merge and -fork: make it this command.
    command = shlex.join([sys.executable, str(Path(__file__).resolve()), name])
    args = [command, *(d for d in DEFAULTS if d.split("=", 1)[0] not in given)]
    args += flags
    if not any(not f.startswith("-") for f in flags):  # no corpus or input given
        work = FUZZ / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        args += [str(work), str(FUZZ / "corpus" / name)]
    inputs = [f for f in flags if not f.startswith("-") and Path(f).is_file()]
    if not inputs:  # fuzzing, not replaying inputs
        target = _keeping_crashes(target, _flag(flags, "-artifact_prefix") or "")
    atheris.Setup(args, target)
    atheris.Fuzz()
    return 0


def _flag(flags: list[str], name: str) -> str | None:
    """The value of libFuzzer flag ``name`` among ``flags`` (None: not given)."""
    for f in flags:
        if f.startswith(name + "="):
            return f.split("=", 1)[1]
    return None


def _keeping_crashes(target: Callable[[bytes], None], prefix: str) -> Callable[[bytes], None]:
    """``target``, writing an input it raises on to ``{prefix}crash-<sha1>`` first, as
    libFuzzer names it. libFuzzer writes the input only once the interpreter has exited,
    and its ``-timeout`` alarm can end a slow exit (on a busy machine) before it does."""

    def run(data: bytes) -> None:
        try:
            target(data)
        except BaseException:
            path = Path(f"{prefix}crash-{hashlib.sha1(data).hexdigest()}")
            path.write_bytes(data)
            print(f"INFO: the crashing input is written to {path}", file=sys.stderr)
            raise

    return run


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
