"""Run one fuzz target under atheris (coverage-guided, libFuzzer).

    python fuzz/fuzzer.py TARGET [LIBFUZZER FLAGS...] [CORPUS DIRS OR INPUTS...]
    python fuzz/fuzzer.py --seed          add the seeds the core makes to fuzz/corpus/
    python fuzz/fuzzer.py --list          the targets (fuzz/targets.py)

``python3 dev.py fuzz TARGET [--runs N] [--time SECONDS]`` runs this with the fuzz extra.
Without a corpus folder or input among the arguments it reads ``fuzz/corpus/TARGET`` and writes
the new inputs it finds to ``fuzz/work/TARGET`` (ignored by git). Defaults, unless given:
``-timeout=10`` (an input running longer is a hang), ``-rss_limit_mb=2048`` and
``-malloc_limit_mb=512`` (a hostile length prefix must not allocate gigabytes),
``-max_len=65536``. A crash is written to ``crash-*`` in the current folder; replay it with
``python fuzz/fuzzer.py TARGET crash-...``. Minimise the corpus into a fresh folder with
``python fuzz/fuzzer.py TARGET -merge=1 NEW fuzz/corpus/TARGET fuzz/work/TARGET`` and make
``NEW`` the corpus.
"""

from __future__ import annotations

import shlex
import sys
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
    atheris.Setup(args, target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
