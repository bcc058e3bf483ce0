# Shared steps of scripts/run and scripts/test: Debian packages and the Python virtualenv.
# Idempotent: a second run installs nothing and starts at once.

RUNTIME_PACKAGES=(python3 python3-venv python3-pip python3-dev gcc pkg-config libopus0 fonts-liberation2 fonts-noto-core fonts-dejavu-core ca-certificates)
TEST_PACKAGES=(chromium postgresql espeak-ng sox poppler-utils qpdf iproute2 iptables softhsm2 opensc nginx xvfb pulseaudio gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp gstreamer1.0-plugins-good gstreamer1.0-plugins-bad python3-gi)
BENCH_PACKAGES=(janus)  # baselines the benchmarks measure against (bench/sfu.py: Janus VideoRoom)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

install_system_packages() {
  local missing=()
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "==> Cài đặt gói hệ thống / installing system packages: ${missing[*]}"
    as_root apt-get -o DPkg::Lock::Timeout=600 update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
  fi
}

ensure_virtualenv() {  # $1: pip extras, e.g. "[test]"
  local stamp=".venv/.installed$1"
  if [ ! -x .venv/bin/python ]; then
    echo "==> Tạo môi trường Python / creating .venv"
    python3 -m venv .venv
  fi
  local stale=0 source
  [ -f "$stamp" ] || stale=1
  for source in pyproject.toml setup.py sfu/*.c; do  # C sources: the extension is rebuilt
    [ "$source" -nt "$stamp" ] && stale=1
  done
  if [ "$stale" = 1 ]; then
    echo "==> Cài đặt hoinghi$1 / installing Python packages"
    .venv/bin/pip install -q --upgrade pip
    .venv/bin/pip install -q -e ".$1"
    touch "$stamp"
  fi
}
