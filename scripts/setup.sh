#!/usr/bin/env bash
# Set scenevoice up on a fresh Debian 12 machine; safe to run again (it skips what is done).
#   scripts/setup.sh          system packages, .venv/, the project and its models
#   scripts/setup.sh --test   the same plus what the tests need
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--test" ]] && want_tests=1

# --- system packages: PortAudio for sound devices; PulseAudio for the virtual devices the
# tests (and machines without a sound card) use. --------------------------------------------
apt_packages=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "setup: need root or sudo to apt-get install ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python environment ------------------------------------------------------------------------
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { echo "setup: Python 3.11 or newer is needed ($python is $("$python" --version 2>&1))" >&2; exit 1; }
[[ -x .venv/bin/python ]] || "$python" -m venv .venv

extras=""
((want_tests)) && extras="[test]"
stamp=".venv/.scenevoice-installed"
fingerprint="$(sha256sum pyproject.toml | cut -d' ' -f1)$extras"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$fingerprint" ]]; then
    echo "setup: installing Python packages (a few minutes the first time)" >&2
    .venv/bin/python -m pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
    # torch first, pinned to the local CPU build: anything else pulls GBs of CUDA packages.
    .venv/bin/python -m pip install -q "torch==2.13.0" 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -m pip install -q -e ".$extras" 2>&1 | grep -v "is ignored" || true
    # Bark and its codec without their declared dependencies: encodec asks for torchaudio,
    # which has no CPU build beside torch 2.13.0 and would pull CUDA. pyproject.toml lists
    # what they really import; modules/voice/bark_imports.py bridges the missing torchaudio.
    .venv/bin/python -m pip install -q --no-deps "bark==0.1.5" "encodec==0.1.1" 2>&1 | grep -v "is ignored" || true
    .venv/bin/python -c "import agent, modules.voice" || { echo "setup: the install failed" >&2; exit 1; }
    .venv/bin/python -c "from modules.voice.bark_imports import bark_generation; bark_generation()" \
        || { echo "setup: Bark does not import" >&2; exit 1; }
    echo "$fingerprint" > "$stamp"
fi

# --- models: convert the bundled Whisper weights for openai-whisper once, then check -----------
.venv/bin/python run.py models --prepare >&2
