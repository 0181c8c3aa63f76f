#!/usr/bin/env bash
# One-time setup (Debian/Ubuntu, as root) for a machine without a GPU:
#  - Mesa 25 lavapipe (a Vulkan software GPU) from bookworm-backports: Dawn refuses Mesa 22 from plain bookworm;
#  - the Vulkan loader (libvulkan1);
#  - Debian chromium for the browser tests (its WebGPU runs on the bundled SwiftShader);
#  - dicom3tools (dciodvfy), which checks the DICOM SEG files glocal writes.
# The backports suite is derived from the machine's own apt sources, so no registry host is written here.
# Pass --with-torch to also install python3-torch (only needed to regenerate test/golden/*.json).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
src=/etc/apt/sources.list.d/debian.sources
bp=/etc/apt/sources.list.d/glocal-backports.sources
if [ -f "$src" ] && grep -q '^Suites:.*bookworm' "$src"; then
  if [ ! -f "$bp" ]; then
    # first stanza of the image's own sources, with the suite swapped for bookworm-backports
    sed -e 's/^Suites:.*/Suites: bookworm-backports/' "$src" | awk -v RS= -v ORS='\n\n' 'NR==1' | $sudo tee "$bp" >/dev/null
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
else
  # not bookworm (e.g. trixie or a recent Ubuntu): the distribution's own Mesa is new enough
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers >/dev/null
fi
# dicom3tools: dciodvfy checks the DICOM SEG files glocal writes (test/suites/dicom-seg.ts)
pkgs="libvulkan1 chromium dicom3tools"
[ "${1:-}" = "--with-torch" ] && pkgs="$pkgs python3-torch"
$sudo apt-get install -y -qq --no-install-recommends $pkgs >/dev/null
dpkg-query -W -f='${Package} ${Version}\n' mesa-vulkan-drivers libvulkan1 chromium dicom3tools
