"""Run one fuzz target under atheris (coverage-guided, libFuzzer).

    python fuzz/fuzzer.py TARGET [LIBFUZZER FLAGS...]      e.g. -runs=1000000 -max_total_time=300
    python fuzz/fuzzer.py --seed                           add the seeds to fuzz/corpus/
    python fuzz/fuzzer.py --list                           the targets

Without a corpus directory among the flags, it fuzzes with ``fuzz/corpus/TARGET`` (read, and
new interesting inputs written to ``fuzz/work/TARGET``, which git ignores) seeded from
``fuzz/seeds/TARGET``. Defaults: ``-timeout=10`` (an input taking longer is a hang),
``-rss_limit_mb=2048`` and ``-malloc_limit_mb=512`` (a hostile length prefix must not allocate
gigabytes), ``-max_len=65536``. A crash writes ``crash-*`` into the current directory; replay
it with ``python fuzz/fuzzer.py TARGET crash-...``. Minimise a corpus with
``python fuzz/fuzzer.py TARGET -merge=1 fuzz/corpus/TARGET fuzz/work/TARGET``.
"""

from __future__ import annotations

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
    args = [sys.argv[0], *(d for d in DEFAULTS if d.split("=", 1)[0] not in given)]
    paths = [f for f in flags if not f.startswith("-")]
    if not paths:
        work = FUZZ / "work" / name
        work.mkdir(parents=True, exist_ok=True)
        paths = [str(work), str(FUZZ / "corpus" / name)]
        paths = [p for p in paths if Path(p).is_dir()]
    args += [*flags, *paths] if paths != flags else flags
    atheris.Setup(args, target)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
