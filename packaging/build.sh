#!/usr/bin/env bash
# Build IR Studio as a PyInstaller one-folder app in dist/irstudio/ (run it from anywhere).
#
#   packaging/build.sh [--edition cpu|cuda] [--no-check]
#
# Needs the package extra: pip install -e ".[package]" (gives PyInstaller). The CPU edition (the
# default) needs the CPU-only build of torch; --edition cuda keeps the CUDA libraries. After the
# build, the bundle's own self-test runs offscreen (--no-check skips it) and its size is printed.
# Build outputs (build/, dist/) are git-ignored.
set -euo pipefail

edition="${IRSTUDIO_EDITION:-cpu}"
check=1
while [[ $# -gt 0 ]]; do
    case "$1" in
        --edition) edition="$2"; shift 2 ;;
        --edition=*) edition="${1#*=}"; shift ;;
        --no-check) check=0; shift ;;
        -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
        *) echo "build.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done

cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if ! "$python" -c "import PyInstaller" 2>/dev/null; then
    echo "build.sh: PyInstaller is missing; install it with: pip install -e \".[package]\"" >&2
    exit 1
fi

echo "build.sh: building the ${edition} edition with $("$python" -m PyInstaller --version) ..."
started=$(date +%s)
IRSTUDIO_EDITION="$edition" "$python" -m PyInstaller --noconfirm --clean \
    --distpath dist --workpath build/pyinstaller packaging/irstudio.spec
echo "build.sh: built dist/irstudio in $(( $(date +%s) - started )) s"

if [[ "$check" == 1 ]]; then
    echo "build.sh: running the bundle's self-test (offscreen)"
    QT_QPA_PLATFORM=offscreen dist/irstudio/irstudio --self-test
fi
echo "build.sh: bundle size: $(du -sh dist/irstudio | cut -f1)"
